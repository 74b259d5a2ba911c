// `chunkcache key …`: PBS encryption key files.
//
//   chunkcache key create --out FILE [--kdf none|scrypt|pbkdf2]
//                         [--password-file F | --password-env VAR] [--force]
//
// `create` writes a new random key as a PBS key file (mode 0600) and prints its fingerprint.
// kdf none (the default, like the keys PVE generates) stores the key unprotected; scrypt and
// pbkdf2 wrap it with the password, which is then required. An existing file is only replaced
// with --force.
#ifndef CHUNKCACHE_CLIENT_CLI_KEY_COMMAND_H_
#define CHUNKCACHE_CLIENT_CLI_KEY_COMMAND_H_

#include "CLI/CLI.hpp"

namespace chunkcache {

void RegisterKeyCommand(CLI::App& app);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_KEY_COMMAND_H_
