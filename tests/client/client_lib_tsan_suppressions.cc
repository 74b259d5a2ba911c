// ThreadSanitizer suppressions for the tests that run a gRPC server and client in one process.
// gRPC, and the Abseil, protobuf and OpenSSL under it, are Debian's uninstrumented shared
// libraries: TSan cannot see their internal synchronization and reports their hand-offs (an
// epoll fd created on one thread and polled on another, completion queue events, TLS buffers)
// as races. Reports with a frame in our own code are unaffected unless one of these libraries
// is also on the stack.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgpr.so\n"
         "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "called_from_lib:libabsl_synchronization.so\n"
         "called_from_lib:libabsl_graphcycles_internal.so\n"
         "race:libabsl_\n"
         "race:libprotobuf.so\n"
         "called_from_lib:libcrypto.so\n"
         "called_from_lib:libssl.so\n"
         "race:libcrypto.so\n"
         "race:libssl.so\n";
}
