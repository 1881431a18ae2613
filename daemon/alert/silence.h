/*
 * silence: silences kept in the state directory (state_dir/silences.json) by `pacewatch silence
 * add|list|remove`, beside those of the configuration. The daemon re-reads the file every
 * minute, so a silence added while it runs takes effect within a minute.
 */
#ifndef PW_SILENCE_H
#define PW_SILENCE_H

#include <jansson.h>
#include <stdint.h>

/* Loads STATE_DIR/silences.json: a JSON array of {"id","target","until","reason","created",
 * "by"} (until and created in epoch seconds; target an indicator id or "source:<source id>";
 * files written before ids and sources read too: "indicator" for "target", no "id"). Returns a new
 * reference (an empty array when there is no file); NULL only on allocation failure. A damaged file
 * (not JSON, not an array) is kept aside as silences.json.corrupt-<epoch seconds>, logged at error
 * level with the parse error's position (never the file's content), read as empty, and *CORRUPT
 * (when not NULL) set to 1 (docs/storage.md). */
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

/* What silence S covers: its "target" (an indicator id or "source:<source id>"), or the
 * "indicator" of a file written before targets; NULL when neither. */
const char *pw_silence_target(const json_t *s);

/* Whether LIST has a silence of TARGET (an indicator id or "source:<source id>") at NOW. */
int pw_silence_active(const json_t *list, const char *target, int64_t now);

/* Gives every silence of LIST without an "id" the next free one ("s1", "s2", ...: one more than
 * the highest in the list), in the list's order, so the same file always gets the same ids.
 * Returns how many were given, or -ENOMEM. */
int pw_silence_assign_ids(json_t *list);

/* The index in LIST of the silence with id SID, or -1. */
int pw_silence_find(const json_t *list, const char *sid);

/* The end of a silence added at NOW from `--for DURATION` (FOR_TEXT, as the configuration's
 * durations: "3d", "12h", "1w2d") or `--until TIME` (UNTIL_TEXT, as pw_date_parse reads it):
 * exactly one of them, NULL for the other. Returns 0 with *UNTIL, or -EINVAL (both, neither, or
 * one unreadable) or -ERANGE (the end is not after NOW), with ERR saying why. */
int pw_silence_until(const char *for_text, const char *until_text, int64_t now, int64_t *until,
                     char *err, size_t errlen);

#endif
