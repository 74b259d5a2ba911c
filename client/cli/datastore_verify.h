// `chunkcache datastore verify`: checks every manifest, index and chunk of one snapshot or of
// the whole datastore (all namespaces), the way PBS's verify job does.
//
//   chunkcache datastore verify --path DIR [--snapshot SNAP] [--keyfile K]
//
// Per snapshot: the manifest decodes; with a key, its fingerprint and signature match the key.
// Per archive: the index (or blob file) exists, parses and matches the manifest's size and
// checksum. Per referenced chunk (each distinct one once): it exists and decodes with CRC, crypt
// mode, length and digest checks. Each problem is printed on stdout as one line starting with
// "bad chunk", "bad index" or "bad manifest" (digest, path relative to the datastore, reason),
// followed by a summary; the exit code is 1 when anything is bad.
//
// A snapshot made with a key is verified without --keyfile as far as that goes: manifest,
// indexes, plain and sign-only chunks fully, and each encrypted chunk's CRC and crypt mode.
// Encrypted chunks' digests and contents, and the manifest signature, need the key; the snapshot
// line ("ok without key" / "signature was not checked") and the summary say so, and this alone
// is not a failure.
#ifndef CHUNKCACHE_CLIENT_CLI_DATASTORE_VERIFY_H_
#define CHUNKCACHE_CLIENT_CLI_DATASTORE_VERIFY_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

// Adds `verify` to the `datastore` command.
void RegisterDatastoreVerifyCommand(CLI::App& datastore);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_DATASTORE_VERIFY_H_
