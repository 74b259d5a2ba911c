#include <gtest/gtest.h>

#include "client/lib/client_channel.h"
#include "client/lib/retry_policy.h"
#include "client/lib/status_conversion.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, OnlyUnavailableIsRetried) {
  EXPECT_TRUE(IsRetryableCode(grpc::StatusCode::UNAVAILABLE));
  for (grpc::StatusCode code :
       {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::OUT_OF_RANGE, grpc::StatusCode::DATA_LOSS,
        grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::UNAUTHENTICATED,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::RESOURCE_EXHAUSTED}) {
    EXPECT_FALSE(IsRetryableCode(code)) << code;
  }
}

TEST(RetryPolicy, StopsAfterMaxAttempts) {
  RetryPolicy policy;
  policy.max_attempts = 3;
  EXPECT_TRUE(policy.ShouldRetry(grpc::StatusCode::UNAVAILABLE, 1));
  EXPECT_TRUE(policy.ShouldRetry(grpc::StatusCode::UNAVAILABLE, 2));
  EXPECT_FALSE(policy.ShouldRetry(grpc::StatusCode::UNAVAILABLE, 3));
  EXPECT_FALSE(RetryPolicy::NoRetries().ShouldRetry(grpc::StatusCode::UNAVAILABLE, 1));
}

TEST(RetryPolicy, BackoffDoublesUpToTheCap) {
  RetryPolicy policy;  // 100 ms doubling, at most 5 s
  EXPECT_EQ(policy.BackoffCeiling(1), milliseconds(100));
  EXPECT_EQ(policy.BackoffCeiling(2), milliseconds(200));
  EXPECT_EQ(policy.BackoffCeiling(4), milliseconds(800));
  EXPECT_EQ(policy.BackoffCeiling(7), milliseconds(5000));
  EXPECT_EQ(policy.BackoffCeiling(1000), milliseconds(5000));
}

TEST(RetryPolicy, JitterStaysBetweenHalfAndTheCeiling) {
  RetryPolicy policy;
  bool saw_different = false;
  const milliseconds first = policy.JitteredBackoff(3);
  for (int i = 0; i < 200; ++i) {
    const milliseconds wait = policy.JitteredBackoff(3);
    EXPECT_GE(wait, milliseconds(200));
    EXPECT_LE(wait, milliseconds(400));
    saw_different = saw_different || wait != first;
  }
  EXPECT_TRUE(saw_different);
}

TEST(StatusConversion, KeepsTheCodeAndAddsContext) {
  const absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "no such archive"), "StatSnapshot on h:1");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "StatSnapshot on h:1: no such archive");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "x").ok());
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::DATA_LOSS), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::UNAUTHENTICATED), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(FromGrpcCode(static_cast<grpc::StatusCode>(99)), absl::StatusCode::kUnknown);
}

TEST(ClientChannel, RejectsInconsistentOptions) {
  ClientOptions options;
  EXPECT_EQ(ValidateClientOptions(options).code(),
            absl::StatusCode::kInvalidArgument);  // no address
  options.server_address = "h:1";
  EXPECT_TRUE(ValidateClientOptions(options).ok());

  ClientOptions ca_without_tls = options;
  ca_without_tls.ca_cert_file = "/etc/ssl/ca.pem";
  EXPECT_EQ(ValidateClientOptions(ca_without_tls).code(), absl::StatusCode::kInvalidArgument);

  ClientOptions cert_without_key = options;
  cert_without_key.use_tls = true;
  cert_without_key.client_cert_file = "/etc/ssl/client.pem";
  EXPECT_EQ(ValidateClientOptions(cert_without_key).code(), absl::StatusCode::kInvalidArgument);

  ClientOptions bad_token = options;
  bad_token.bearer_token = "abc\ndef";
  EXPECT_EQ(ValidateClientOptions(bad_token).code(), absl::StatusCode::kInvalidArgument);

  ClientOptions huge_reads = options;
  huge_reads.max_read_bytes = uint64_t{1} << 40;
  EXPECT_EQ(ValidateClientOptions(huge_reads).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientChannel, UnreadableOrBogusPemFilesAreReported) {
  testing::ScratchDir dir;
  ClientOptions options;
  options.server_address = "h:1";
  options.use_tls = true;
  options.ca_cert_file = (dir / "missing.pem").string();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(options);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(channel.status().message().find("missing.pem"), absl::string_view::npos);

  testing::WriteFileBytes(dir / "not.pem", "hello");
  options.ca_cert_file = (dir / "not.pem").string();
  channel = CreateClientChannel(options);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ClientChannel, PlainChannelIsCreatedLazily) {
  ClientOptions options;
  options.server_address = "127.0.0.1:1";  // nothing listens; connecting happens on first call
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_NE(*channel, nullptr);
}

}  // namespace
}  // namespace chunkcache
