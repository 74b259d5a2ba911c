// `chunkcache datastore create`: adds an archive to a snapshot of a PBS datastore directory,
// creating the datastore and the snapshot as needed, laid out as the PBS server does.
//
//   chunkcache datastore create --path DIR --snapshot SNAP --archive NAME.img.fidx --image FILE
//   chunkcache datastore create --path DIR --snapshot SNAP --archive NAME.didx --stream FILE|-
//   chunkcache datastore create --path DIR --snapshot SNAP --archive NAME.blob --blob FILE
//       [--keyfile K [--password-file F | --password-env VAR]] [--owner AUTH_ID]
//
// --image makes a fixed index of 4 MiB chunks, --stream a dynamic index of content-defined
// chunks (1–16 MiB), --blob one blob file. Chunks are compressed; with a key they are also
// encrypted, the archive is crypt-mode encrypt and the manifest is signed with the key's
// fingerprint. Chunk files already in the datastore are not rewritten (dedup).
//
// A snapshot may receive several archives, one command each: the manifest keeps the archives
// already there. Adding to an encrypted snapshot needs its key; a plain snapshot takes only plain
// archives. An archive that the snapshot already has is refused (snapshots are not modified).
// The input is streamed. Prints one summary line:
//   created vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx: size=… chunks=… distinct=…
//   new_chunks=… bytes_written=…
#ifndef CHUNKCACHE_CLIENT_CLI_DATASTORE_CREATE_H_
#define CHUNKCACHE_CLIENT_CLI_DATASTORE_CREATE_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

// Adds `create` to the `datastore` command.
void RegisterDatastoreCreateCommand(CLI::App& datastore);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_DATASTORE_CREATE_H_
