/*
 * tokens: the departments' reporting tokens of docs/http.md ("Reporting page"), kept in
 * state_dir/tokens.json (docs/storage.md) only as salted SHA-256 hashes. `pacewatch token`
 * adds, lists and revokes them; the daemon re-reads the file every few seconds on the thread
 * pool and checks a token sent with a request against every entry in constant time. The file is
 * read as hostile input: a link, a FIFO, a file over 1 MiB, anything but the exact shape below
 * is refused as a whole (no token is then valid) with a message naming the fault.
 *
 *   {"tokens":[{"id":"3f9a1c07","department":"housing","created":1714438800,
 *               "salt":"<32 hex digits>","sha256":"<64 hex digits>"}]}
 *
 * Pure functions apart from pw_tokens_read, pw_tokens_write and pw_tokens_new (random bytes);
 * any thread.
 */
#ifndef PW_TOKENS_H
#define PW_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of what tokens.json may hold. */
#define PW_TOKENS_MAX 1000
#define PW_TOKENS_FILE_MAX (1u << 20)
/* A token as sent: 43 characters of base64url (32 random bytes). */
#define PW_TOKEN_LEN 43

struct pw_token_entry {
  char id[9];          /* 8 hex digits, shown by `token list` and named by `token revoke` */
  char department[65]; /* a department id */
  int64_t created;     /* epoch seconds */
  unsigned char salt[16];
  unsigned char hash[32]; /* SHA-256(salt || token) */
};

struct pw_tokens {
  struct pw_token_entry *v;
  size_t n;
};

/* Parses TEXT (LEN bytes) into *OUT (owned; free with pw_tokens_free). Returns 0, or -EINVAL
 * with MSG naming the fault ("entry 2: salt must be 32 hex digits"), or -ENOMEM. */
int pw_tokens_parse(const char *text, size_t len, struct pw_tokens *out, char *msg, size_t msglen);

/* Reads STATE_DIR/tokens.json into *OUT: a missing file is no token (0, empty); a link, a FIFO,
 * a directory or a damaged file is -EINVAL (or the read's errno) with MSG naming the file and
 * the fault. Blocking: the thread pool or the CLI. */
int pw_tokens_read(const char *state_dir, struct pw_tokens *out, char *msg, size_t msglen);

/* Writes T to STATE_DIR/tokens.json atomically with mode 0600. Returns 0 or a negative errno.
 * Blocking. */
int pw_tokens_write(const char *state_dir, const struct pw_tokens *t);

/* Appends a new entry for DEPARTMENT created at NOW to T, and the token itself (PW_TOKEN_LEN
 * characters and a NUL) to TOKEN: the only time it exists outside the sender's hands. Returns
 * 0, -ENOMEM, or -EIO when no random bytes could be had. */
int pw_tokens_new(struct pw_tokens *t, const char *department, int64_t now, char *token,
                  size_t size);

/* Removes the entry ID from T. Returns 0 or -ENOENT. */
int pw_tokens_remove(struct pw_tokens *t, const char *id);

/* Checks TOKEN (LEN bytes, as sent) for DEPARTMENT: 0 when an entry of that department matches,
 * -EACCES when only an entry of another department does, -EPERM when none does. Every entry is
 * hashed and compared (CRYPTO_memcmp) whatever matched, so the time taken does not depend on
 * the token sent. T may be NULL (no token). */
int pw_tokens_check(const struct pw_tokens *t, const char *token, size_t len,
                    const char *department);

/* pw_tokens_check, with the id of the department's entry that matched copied into ID (at least
 * 9 bytes) on 0, for the audit line (docs/storage.md "audit.log"). */
int pw_tokens_match(const struct pw_tokens *t, const char *token, size_t len,
                    const char *department, char *id);

void pw_tokens_free(struct pw_tokens *t);

#endif
