#include "format/blob.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/aes_gcm.h"
#include "format/decode_error.h"
#include "format/string_view_compat.h"
#include "format/zstd_codec.h"

namespace chunkcache {
namespace {

using Magic = std::array<uint8_t, 8>;

// spec §1.1: the first 8 bytes of SHA-256 over the variant's name.
constexpr Magic kPlainMagic = {66, 171, 56, 7, 190, 131, 112, 161};
constexpr Magic kZstdMagic = {49, 185, 88, 66, 111, 182, 163, 127};
constexpr Magic kEncryptedMagic = {123, 103, 133, 190, 34, 45, 76, 240};
constexpr Magic kEncryptedZstdMagic = {230, 89, 27, 191, 11, 191, 216, 11};

constexpr size_t kMagicSize = 8;
constexpr size_t kCrcOffset = 8;
constexpr size_t kIvOffset = 12;
constexpr size_t kTagOffset = kIvOffset + kGcmIvSize;
constexpr size_t kPlainHeaderSize = 12;
constexpr size_t kEncryptedHeaderSize = kTagOffset + kGcmTagSize;  // 44

const Magic& MagicOf(BlobKind kind) {
  switch (kind) {
    case BlobKind::kPlain:
      return kPlainMagic;
    case BlobKind::kZstd:
      return kZstdMagic;
    case BlobKind::kEncrypted:
      return kEncryptedMagic;
    case BlobKind::kEncryptedZstd:
      return kEncryptedZstdMagic;
  }
  return kPlainMagic;
}

size_t HeaderSize(BlobKind kind) {
  return IsEncrypted(kind) ? kEncryptedHeaderSize : kPlainHeaderSize;
}

uint32_t LoadLe32(const char* p) {
  uint8_t b[4];
  std::memcpy(b, p, 4);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

void StoreLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t Crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string Hex32(uint32_t v) { return absl::StrCat("0x", absl::Hex(v, absl::kZeroPad8)); }

// Names the blob in messages: the caller's label, else "chunk <digest…>", else "blob".
std::string LabelOf(const BlobDecodeOptions& options) {
  if (!options.label.empty()) return std::string(options.label);
  if (options.expected_digest.has_value()) {
    return absl::StrCat("chunk ", options.expected_digest->ShortHex());
  }
  return "blob";
}

// Where decoded bytes go: caller memory (DecodeBlobInto) or a string sized to fit
// (DecodeBlob). Plain and zstd payloads are written straight into it.
class DecodeOutput {
 public:
  explicit DecodeOutput(absl::Span<char> fixed) : fixed_(fixed) {}
  explicit DecodeOutput(std::string* growable) : growable_(growable) {}

  // Room for `size` bytes; empty when caller memory is smaller.
  std::optional<absl::Span<char>> Reserve(size_t size) {
    if (growable_ != nullptr) {
      growable_->resize(size);
      return absl::MakeSpan(*growable_);
    }
    if (size > fixed_.size()) return std::nullopt;
    return fixed_.subspan(0, size);
  }

  ZstdResult Decompress(std::string_view frame, size_t limit) {
    if (growable_ != nullptr) return ZstdDecompressToString(frame, limit, *growable_);
    return ZstdDecompressInto(frame, fixed_, limit);
  }

  // The smaller of the caller's memory and `limit` (growable output has only the limit).
  size_t Capacity(size_t limit) const {
    return growable_ != nullptr ? limit : std::min(limit, fixed_.size());
  }

  std::string_view View(size_t size) const {
    return growable_ != nullptr ? std::string_view(growable_->data(), size)
                                : std::string_view(fixed_.data(), size);
  }

 private:
  absl::Span<char> fixed_;
  std::string* growable_ = nullptr;
};

// Holds the decrypted zstd frame of an encrypted+compressed blob between decryption and
// decompression. Reused per thread so a 4 MiB chunk does not cost a fresh 4 MiB allocation.
std::vector<char>& DecryptScratch() {
  thread_local std::vector<char> scratch;
  return scratch;
}

void TrimDecryptScratch() {
  std::vector<char>& scratch = DecryptScratch();
  if (scratch.capacity() > kMaxChunkSize + kEncryptedHeaderSize) {
    std::vector<char>().swap(scratch);
  }
}

class BlobDecoder {
 public:
  BlobDecoder(std::string_view blob, const BlobDecodeOptions& options)
      : blob_(blob), options_(options), label_(LabelOf(options)) {}

  absl::StatusOr<size_t> Decode(DecodeOutput& output) {
    absl::StatusOr<BlobKind> kind = PeekBlobKind(blob_);
    if (!kind.ok()) return Error(DecodeErrorReason::kFormat, ToStd(kind.status().message()));
    kind_ = *kind;
    if (IsEncrypted(kind_) && blob_.size() < kEncryptedHeaderSize) {
      return Error(DecodeErrorReason::kFormat,
                   absl::StrCat("encrypted blob too small (", blob_.size(),
                                " bytes, the header alone is ", kEncryptedHeaderSize, ")"));
    }
    payload_ = blob_.substr(HeaderSize(kind_));

    uint32_t stored_crc = LoadLe32(blob_.data() + kCrcOffset);
    uint32_t computed_crc = Crc32(payload_);
    if (stored_crc != computed_crc) {
      return Error(DecodeErrorReason::kCrc, absl::StrCat("CRC mismatch (stored ", Hex32(stored_crc),
                                                         ", computed ", Hex32(computed_crc), ")"));
    }
    if (absl::Status s = CheckCryptMode(); !s.ok()) return s;
    if (IsEncrypted(kind_) && options_.key == nullptr) {
      return DecodeError(DecodeErrorReason::kDecrypt, absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(label_, ": blob is encrypted but no key was given"));
    }
    if (keyed_plaintext_ && options_.key == nullptr) {
      return DecodeError(
          DecodeErrorReason::kDecrypt, absl::StatusCode::kFailedPrecondition,
          absl::StrCat(label_, ": chunk of an encrypted archive but no key was given"));
    }

    absl::StatusOr<size_t> size = DecodePayload(output);
    if (!size.ok()) return size;
    if (options_.expected_size.has_value() && *size != *options_.expected_size) {
      return Error(DecodeErrorReason::kDigest,
                   absl::StrCat("wrong length (decoded ", *size, " bytes, the index says ",
                                *options_.expected_size, ")"));
    }
    if (options_.expected_digest.has_value()) {
      const CryptConfig* digest_key =
          IsEncrypted(kind_) || keyed_plaintext_ ? options_.key : nullptr;
      ChunkDigest computed = ChunkDigestOf(output.View(*size), digest_key);
      if (computed != *options_.expected_digest) {
        return Error(DecodeErrorReason::kDigest,
                     absl::StrCat("wrong digest (expected ", options_.expected_digest->Hex(),
                                  ", computed ", computed.Hex(), ")"));
      }
    }
    return size;
  }

 private:
  absl::Status Error(DecodeErrorReason reason, std::string_view message) const {
    return DecodeError(reason, absl::StrCat(label_, ": ", ToAbsl(message)));
  }

  // Sets keyed_plaintext_ when an encrypted chunk comes as verified plaintext.
  absl::Status CheckCryptMode() {
    if (!options_.expected_mode.has_value()) return absl::OkStatus();
    bool want_encrypted = *options_.expected_mode == CryptMode::kEncrypt;
    if (want_encrypted == IsEncrypted(kind_)) return absl::OkStatus();
    if (want_encrypted && kind_ == BlobKind::kPlain && options_.accept_verified_plaintext) {
      if (!options_.expected_digest.has_value()) {
        return Error(DecodeErrorReason::kFormat,
                     "plaintext of an encrypted chunk without a digest to check it against");
      }
      keyed_plaintext_ = true;
      return absl::OkStatus();
    }
    return Error(DecodeErrorReason::kFormat,
                 absl::StrCat("index and chunk crypt mode don't match (the manifest says '",
                              ToAbsl(CryptModeName(*options_.expected_mode)), "' but the blob is ",
                              want_encrypted ? "not encrypted" : "encrypted", ")"));
  }

  // Copies or decrypts `size` bytes of output that need no decompression.
  absl::StatusOr<absl::Span<char>> ReserveUncompressed(DecodeOutput& output, size_t size) {
    if (size > options_.max_decoded_size) {
      return Error(DecodeErrorReason::kDecompress,
                   absl::StrCat("data of ", size, " bytes exceeds the limit of ",
                                options_.max_decoded_size, " bytes"));
    }
    if (options_.expected_size.has_value() && size != *options_.expected_size) {
      return Error(DecodeErrorReason::kDigest,
                   absl::StrCat("wrong length (decoded ", size, " bytes, the index says ",
                                *options_.expected_size, ")"));
    }
    std::optional<absl::Span<char>> room = output.Reserve(size);
    if (!room.has_value()) {
      return Error(DecodeErrorReason::kDecompress,
                   absl::StrCat("data of ", size, " bytes does not fit the ", output.Capacity(size),
                                "-byte output buffer"));
    }
    return *room;
  }

  absl::StatusOr<size_t> Decompress(DecodeOutput& output, std::string_view frame) {
    const size_t limit = options_.max_decoded_size;
    ZstdResult result = output.Decompress(frame, limit);
    switch (result.failure) {
      case ZstdFailure::kNone:
        return result.size;
      case ZstdFailure::kCorrupt:
        return Error(DecodeErrorReason::kDecompress,
                     absl::StrCat("zstd decompression failed: ", result.detail));
      case ZstdFailure::kTruncated:
        return Error(DecodeErrorReason::kDecompress,
                     "zstd data is truncated (the input ends inside a frame)");
      case ZstdFailure::kOverLimit: {
        size_t capacity = output.Capacity(limit);
        if (options_.expected_size.has_value() && capacity >= *options_.expected_size &&
            capacity < limit) {
          return Error(DecodeErrorReason::kDecompress,
                       absl::StrCat("decompressed data is larger than the ", capacity,
                                    "-byte output buffer (the index says ", *options_.expected_size,
                                    " bytes)"));
        }
        return Error(DecodeErrorReason::kDecompress,
                     absl::StrCat("decompressed data exceeds the limit of ", capacity, " bytes"));
      }
      case ZstdFailure::kNoMemory:
        return absl::ResourceExhaustedError(
            absl::StrCat(label_, ": cannot allocate a zstd decompression context"));
    }
    return Error(DecodeErrorReason::kDecompress, "zstd decompression failed");
  }

  absl::StatusOr<size_t> DecodePayload(DecodeOutput& output) {
    switch (kind_) {
      case BlobKind::kPlain: {
        absl::StatusOr<absl::Span<char>> room = ReserveUncompressed(output, payload_.size());
        if (!room.ok()) return room.status();
        if (!payload_.empty()) std::memcpy(room->data(), payload_.data(), payload_.size());
        return payload_.size();
      }
      case BlobKind::kZstd:
        return Decompress(output, payload_);
      case BlobKind::kEncrypted: {
        // Decrypting in place is safe: on a bad tag the caller must ignore `output`.
        absl::StatusOr<absl::Span<char>> room = ReserveUncompressed(output, payload_.size());
        if (!room.ok()) return room.status();
        if (absl::Status s = Decrypt(*room); !s.ok()) return s;
        return payload_.size();
      }
      case BlobKind::kEncryptedZstd: {
        // The tag must be verified before zstd sees a single decrypted byte.
        std::vector<char>& frame = DecryptScratch();
        frame.resize(payload_.size());
        absl::Status decrypted = Decrypt(absl::MakeSpan(frame));
        absl::StatusOr<size_t> size =
            decrypted.ok() ? Decompress(output, std::string_view(frame.data(), frame.size()))
                           : absl::StatusOr<size_t>(decrypted);
        TrimDecryptScratch();
        return size;
      }
    }
    return Error(DecodeErrorReason::kFormat, "unknown blob kind");
  }

  absl::Status Decrypt(absl::Span<char> out) const {
    AesGcmIv iv;
    AesGcmTag tag;
    std::memcpy(iv.data(), blob_.data() + kIvOffset, iv.size());
    std::memcpy(tag.data(), blob_.data() + kTagOffset, tag.size());
    if (!AesGcmDecrypt(options_.key->enc_key(), iv, tag, payload_, out)) {
      return Error(DecodeErrorReason::kDecrypt,
                   absl::StrCat("AES-GCM authentication failed (wrong key ",
                                options_.key->FingerprintText().substr(0, 23),
                                "…, or the blob was altered)"));
    }
    return absl::OkStatus();
  }

  std::string_view blob_;
  const BlobDecodeOptions& options_;
  std::string label_;
  BlobKind kind_ = BlobKind::kPlain;
  // An encrypted chunk's plaintext in a plain blob (accept_verified_plaintext): its digest is
  // keyed.
  bool keyed_plaintext_ = false;
  std::string_view payload_;
};

}  // namespace

std::string_view CryptModeName(CryptMode mode) {
  switch (mode) {
    case CryptMode::kNone:
      return "none";
    case CryptMode::kEncrypt:
      return "encrypt";
    case CryptMode::kSignOnly:
      return "sign-only";
  }
  return "none";
}

absl::StatusOr<CryptMode> ParseCryptMode(std::string_view name) {
  if (name == "none") return CryptMode::kNone;
  if (name == "encrypt") return CryptMode::kEncrypt;
  if (name == "sign-only") return CryptMode::kSignOnly;
  return absl::InvalidArgumentError(absl::StrCat("unknown crypt mode '",
                                                 absl::CHexEscape(ToAbsl(name)),
                                                 "' (expected none, encrypt or sign-only)"));
}

absl::StatusOr<BlobKind> PeekBlobKind(std::string_view blob) {
  if (blob.size() < kPlainHeaderSize) {
    return DecodeError(DecodeErrorReason::kFormat,
                       absl::StrCat("blob too small (", blob.size(),
                                    " bytes, a DataBlob has at least ", kPlainHeaderSize, ")"));
  }
  for (BlobKind kind :
       {BlobKind::kPlain, BlobKind::kZstd, BlobKind::kEncrypted, BlobKind::kEncryptedZstd}) {
    if (std::memcmp(blob.data(), MagicOf(kind).data(), kMagicSize) == 0) return kind;
  }
  return DecodeError(DecodeErrorReason::kFormat,
                     absl::StrCat("wrong magic ", absl::BytesToHexString(ToAbsl(blob.substr(0, 8))),
                                  " (not a PBS DataBlob)"));
}

std::optional<size_t> ClaimedDecodedSize(std::string_view blob) {
  absl::StatusOr<BlobKind> kind = PeekBlobKind(blob);
  if (!kind.ok() || blob.size() < HeaderSize(*kind)) return std::nullopt;
  const std::string_view payload = blob.substr(HeaderSize(*kind));
  switch (*kind) {
    case BlobKind::kPlain:
    case BlobKind::kEncrypted:
      return payload.size();
    case BlobKind::kZstd:
      return ZstdDeclaredContentSize(payload);
    case BlobKind::kEncryptedZstd:
      return std::nullopt;
  }
  return std::nullopt;
}

bool IsEncrypted(BlobKind kind) {
  return kind == BlobKind::kEncrypted || kind == BlobKind::kEncryptedZstd;
}

absl::StatusOr<std::string> DecodeBlob(std::string_view blob, const BlobDecodeOptions& options) {
  std::string decoded;
  DecodeOutput output(&decoded);
  absl::StatusOr<size_t> size = BlobDecoder(blob, options).Decode(output);
  if (!size.ok()) return size.status();
  decoded.resize(*size);
  return decoded;
}

absl::StatusOr<size_t> DecodeBlobInto(std::string_view blob, const BlobDecodeOptions& options,
                                      absl::Span<char> out) {
  DecodeOutput output(out);
  return BlobDecoder(blob, options).Decode(output);
}

absl::StatusOr<std::string> EncodeBlob(std::string_view data, const BlobEncodeOptions& options) {
  if (data.size() > kMaxBlobFileSize) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode ", data.size(),
                                                   " bytes into a blob: the limit is ",
                                                   kMaxBlobFileSize, " bytes"));
  }
  const bool encrypt = options.key != nullptr;
  const size_t header_size = encrypt ? kEncryptedHeaderSize : kPlainHeaderSize;

  // Compress into a buffer of exactly len(data) bytes (PBS ≥ 3.2.8): a frame that does not
  // fit, or is not smaller-or-equal, is dropped and the data stored raw.
  std::string compressed;
  std::optional<size_t> frame_size;
  if (options.compress && !data.empty()) {
    compressed.resize(data.size());
    frame_size = ZstdCompressLevel1(data, absl::MakeSpan(compressed));
  }
  std::string_view payload = data;
  if (frame_size.has_value() && *frame_size <= data.size()) {
    payload = std::string_view(compressed.data(), *frame_size);
  } else {
    frame_size.reset();
  }
  const bool compressed_kept = frame_size.has_value();

  BlobKind kind = encrypt ? (compressed_kept ? BlobKind::kEncryptedZstd : BlobKind::kEncrypted)
                          : (compressed_kept ? BlobKind::kZstd : BlobKind::kPlain);
  std::string blob(header_size + payload.size(), '\0');
  std::memcpy(blob.data(), MagicOf(kind).data(), kMagicSize);
  absl::Span<char> body = absl::MakeSpan(blob).subspan(header_size);
  if (encrypt) {
    AesGcmIv iv;
    AesGcmTag tag;
    if (!RandomBytes(absl::MakeSpan(iv))) {
      return absl::InternalError("cannot get 16 random bytes for the blob IV from OpenSSL");
    }
    if (!AesGcmEncrypt(options.key->enc_key(), iv, payload, body, tag)) {
      return absl::InternalError("AES-256-GCM encryption failed in OpenSSL");
    }
    std::memcpy(blob.data() + kIvOffset, iv.data(), iv.size());
    std::memcpy(blob.data() + kTagOffset, tag.data(), tag.size());
  } else if (!payload.empty()) {
    std::memcpy(body.data(), payload.data(), payload.size());
  }
  StoreLe32(blob.data() + kCrcOffset, Crc32(std::string_view(body.data(), body.size())));
  return blob;
}

}  // namespace chunkcache
