/*
 * silence: silences kept in the state directory (state_dir/silences.json) by `pacewatch silence
 * add|list|remove`, beside those of the configuration. The daemon re-reads the file every
 * minute, so a silence added while it runs takes effect within a minute.
 */
#ifndef PW_SILENCE_H
#define PW_SILENCE_H

#include <jansson.h>
#include <stdint.h>

/* Loads STATE_DIR/silences.json: a JSON array of {"indicator","until","reason","created"}
 * (until and created in epoch seconds). Returns a new reference (an empty array when there is
 * no file); NULL only on allocation failure. A damaged file (not JSON, not an array) is kept
 * aside as silences.json.corrupt-<epoch seconds>, logged at error level with the parse error's
 * position (never the file's content), read as empty, and *CORRUPT (when not NULL) set to 1
 * (docs/storage.md). */
json_t *pw_silence_read(const char *state_dir, int *corrupt);

/* pw_silence_read without the flag. */
json_t *pw_silence_load(const char *state_dir);

/* State files (alerts.json, silences.json): the parse error JERR as "line L, column C: text"
 * without the file's own bytes, into BUF. */
void pw_state_json_error(const json_error_t *jerr, char *buf, size_t size);

/* Reads the state file PATH (alerts.json, silences.json) as JSON, without waiting on a FIFO nor
 * following a symbolic link planted at its name (pw_read_state_file). Returns the document
 * (owned; json_decref), or NULL with *STATUS: -ENOENT (no file), -EBADMSG (not JSON: WHY holds
 * the error's position as pw_state_json_error writes it), -ELOOP, -EISDIR or -EINVAL (not a
 * regular file: WHY says what is there, e.g. "a FIFO, not a regular file"), or another
 * negative errno (WHY: its text). Blocking: off the loop, or at start-up. */
json_t *pw_state_json_load(const char *path, int *status, char *why, size_t whylen);

/* Renames the damaged state file PATH to PATH.corrupt-<epoch seconds> and logs it at error level
 * with WHY. Returns 0 or a negative errno (logged; the file is left where it is). */
int pw_state_set_aside(const char *path, const char *why);

/* Writes LIST durably to STATE_DIR/silences.json. Returns 0 or a negative errno. */
int pw_silence_save(const char *state_dir, const json_t *list);

/* Whether LIST silences indicator ID at NOW. */
int pw_silence_active(const json_t *list, const char *id, int64_t now);

#endif
