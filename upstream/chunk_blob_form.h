// What a chunk fetched from another chunkcache looks like to the code that decodes it.
//
// GetChunk replies with the chunk's verified plaintext in an uncompressed, unencrypted
// DataBlob. For a chunk of a plain (or sign-only) archive that is a valid stored form: the
// digest is SHA-256 of the plaintext. A chunk of an encrypted archive is named by a keyed
// digest, SHA-256(plaintext ‖ id_key), and the cache decodes it as the archive's crypt mode
// says: it must be an encrypted blob. RestoreEncryptedForm re-encrypts the plaintext with the
// key when — and only when — its keyed digest is the requested one, which proves that the key's
// holder produced it. Every other blob is returned as received, for the caller's verification
// to accept (plain chunks) or reject (DATA_LOSS).
//
//   std::string blob = RestoreEncryptedForm(std::move(received), digest, key.get());
#ifndef CHUNKCACHE_UPSTREAM_CHUNK_BLOB_FORM_H_
#define CHUNKCACHE_UPSTREAM_CHUNK_BLOB_FORM_H_

#include <string>

#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache {

// `key` null: `blob` unchanged.
std::string RestoreEncryptedForm(std::string blob, const ChunkDigest& digest,
                                 const CryptConfig* key);

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_CHUNK_BLOB_FORM_H_
