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
 * no file); NULL only on allocation failure. A malformed file is logged and read as empty. */
json_t *pw_silence_load(const char *state_dir);

/* Writes LIST durably to STATE_DIR/silences.json. Returns 0 or a negative errno. */
int pw_silence_save(const char *state_dir, const json_t *list);

/* Whether LIST silences indicator ID at NOW. */
int pw_silence_active(const json_t *list, const char *id, int64_t now);

#endif
