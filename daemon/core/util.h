/*
 * util: small helpers shared by every module: a growable byte buffer with a hard limit, whole
 * file reading, durable file writing, UTF-8 validation and display width, path joining, URLs
 * made fit for messages.
 */
#ifndef PW_UTIL_H
#define PW_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct pw_buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
  size_t limit; /* 0 = none; appending past it fails with -E2BIG */
};

/* Appends LEN bytes. Returns 0, -ENOMEM or -E2BIG. */
int pw_buf_append(struct pw_buf *b, const void *data, size_t len);

/* Appends a formatted string. Returns 0, -ENOMEM or -E2BIG. */
int pw_buf_printf(struct pw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the buffer's memory and resets it (keeps the limit). */
void pw_buf_free(struct pw_buf *b);

/* Reads the whole file PATH into *OUT (owned, NUL-terminated; free with free()), at most
 * LIMIT bytes (0 = none). Returns 0 or a negative errno (-E2BIG past the limit, -EISDIR for a
 * directory, -EINVAL for anything else that is not a regular file, a FIFO included: the open
 * never blocks). */
int pw_read_file(const char *path, size_t limit, char **out, size_t *len);

/* As pw_read_file, for a file of the state directory: a symbolic link at PATH is not followed
 * but refused with -ELOOP (docs/storage.md: a planted link never makes the daemon read or write
 * a file outside). Blocking: off the loop. */
int pw_read_state_file(const char *path, size_t limit, char **out, size_t *len);

/* Whether PATH names a regular file, looked at without following a final symbolic link (lstat)
 * and without opening it (a FIFO would block the opener): 0 when it does, -ENOENT when nothing
 * is there, -ELOOP for a symbolic link, -EISDIR for a directory, -EINVAL for anything else (a
 * FIFO, a socket, a device), or lstat's negative errno. With WHAT, *WHAT describes what is
 * there for a message ("a FIFO", "a symbolic link (not followed)", ...; "" for a regular file
 * or an lstat error). Any thread. */
int pw_regular_file(const char *path, const char **what);

/* Retention (docs/storage.md "Retention"): removes from directory DIR the regular files whose
 * name OURS accepts and whose modification time is before BEFORE (epoch seconds; file times are
 * on the real clock). Never follows a symbolic link: DIR itself is opened with O_NOFOLLOW, and
 * an entry that is a link, a directory or anything but a regular file is left alone, as are
 * names OURS refuses. Returns how many were removed, or a negative errno when DIR cannot be
 * opened (-ENOENT: none; -ELOOP: a link). Blocking: on the thread pool. */
int pw_prune_dir(const char *dir, int64_t before, int (*ours)(const char *name));

/* Writes DATA to PATH durably: a temporary file beside it (created exclusively, never through a
 * planted symlink), fsync, rename, fsync of the directory. Returns 0 or a negative errno. */
int pw_write_file_atomic(const char *path, const void *data, size_t len);

/* Writes LEN bytes of DATA to FD, again after a short write or EINTR. Returns 0 or -errno; *DONE
 * (when not NULL) is how many bytes went out either way. */
int pw_write_all(int fd, const void *data, size_t len, size_t *done);

/* pw_write_file_atomic creating the file with MODE (less the umask): 0600 for a file of secrets'
 * hashes (tokens.json, docs/storage.md). */
int pw_write_file_atomic_mode(const char *path, const void *data, size_t len, unsigned mode);

/* Creates DIR and its parents (mode 0755). Returns 0 or a negative errno. */
int pw_mkdir_p(const char *dir);

/* Returns 1 if the LEN bytes at S are valid UTF-8, else 0. */
int pw_utf8_valid(const char *s, size_t len);

/* A sample's note (短说明, docs/values.md#notes): at most PW_NOTE_MAX characters of UTF-8 text
 * on one line. PW_NOTE_BUF bytes hold any note pw_note_clean accepts. */
#define PW_NOTE_MAX 200
#define PW_NOTE_BUF (PW_NOTE_MAX * 4 + 1)

/* Cleans the LEN bytes at IN into a note in OUT (OUTLEN bytes, at least PW_NOTE_BUF): a tab, CR
 * or newline becomes a space, every other control character (C0, DEL, C1) is dropped, and spaces
 * at either end are trimmed. Returns the note's length in bytes (0: no note), -EILSEQ when IN is
 * not valid UTF-8, or -E2BIG when the note is longer than PW_NOTE_MAX characters. Any thread. */
int pw_note_clean(const char *in, size_t len, char *out, size_t outlen);

/* An explanation's text (原因, 措施, docs/storage.md#explanations): cleaned like a note, up to
 * PW_EXPLANATION_MAX characters. PW_EXPLANATION_BUF bytes hold any such text. */
#define PW_EXPLANATION_MAX 500
#define PW_EXPLANATION_BUF (PW_EXPLANATION_MAX * 4 + 1)

/* pw_note_clean with a limit of MAX characters (OUTLEN at least MAX * 4 + 1). */
int pw_text_clean(const char *in, size_t len, char *out, size_t outlen, size_t max);

/* The terminal display width of UTF-8 text S (East Asian wide characters count 2). */
int pw_utf8_width(const char *s);

/* Joins DIR and a relative PATH into an allocated string (PATH returned copied when absolute).
 * Returns owned memory; free with free(). NULL on allocation failure. */
char *pw_path_join(const char *dir, const char *path);

/* Writes URL into OUT (LEN bytes, terminated when LEN > 0) in a form a message may show: the
 * scheme, user name, host, port and path are kept; a password in the userinfo, the value of
 * every parameter of the query string (a parameter without '=' whole), a path segment that
 * looks like a token (20 or more letters, digits, '-' and '_', with both letters and digits)
 * and the fragment become "***"; control characters become '?'. Text without a scheme is read the
 * same way (what comes before the first '/', '?' or '#' is the authority). Returns the length of
 * the whole redacted text, as snprintf does: LEN or more means OUT was truncated. Any thread. */
size_t pw_redact_url(const char *url, char *out, size_t len);

/* Copies at most SIZE-1 bytes of SRC into DST and terminates it. Returns strlen(SRC). */
size_t pw_strlcpy(char *dst, const char *src, size_t size);

#endif
