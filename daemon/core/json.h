/*
 * json: every JSON document pacewatch writes (the API, webhook and robot bodies, export --format
 * json, alerts.json, the spool, the inbox) is printed here, so that a real number reads as the
 * shortest text that converts back to exactly the same double (91.9, never
 * 91.900000000000006): jansson 2.14 prints reals with "%.17g" or a fixed precision, which is
 * either noisy or lossy (docs/status-json.md "Numbers and times", docs/libraries.md).
 *
 * The output is otherwise byte for byte what json_dumps gives with the same flags (separators,
 * indentation, string escapes, key order), so the documents keep their shape. Reals always carry
 * a decimal point or an exponent ("2.0", "1e21", "-0.0"), so they read back as reals. Any
 * thread.
 */
#ifndef PW_JSON_H
#define PW_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

/* Formats V (finite) with the fewest significant digits (1 to 17) that read back as V, as a JSON
 * real: "91.9", "0.1", "1e21", "-0.0", "5e-324", "2.0". BUF needs 32 bytes. Returns the length
 * written, or -1 when V is not finite or BUF is too small. */
int pw_json_real(double v, char *buf, size_t size);

/* json_dumps(DOC, FLAGS) with reals in their shortest exact form. FLAGS are jansson's:
 * JSON_INDENT(n), JSON_COMPACT, JSON_ENSURE_ASCII, JSON_SORT_KEYS, JSON_ENCODE_ANY,
 * JSON_ESCAPE_SLASH (JSON_PRESERVE_ORDER is the default of jansson 2.14 and accepted;
 * JSON_REAL_PRECISION is ignored). Returns an owned string (free with free()), or NULL when DOC
 * is NULL, not an array or object without JSON_ENCODE_ANY, or memory ran out. */
char *pw_json_dumps(const json_t *doc, size_t flags);

/* One object written member by member into a buffer, for a document too big to build whole in
 * memory (alerts.json's thousands of states): the text is what pw_json_dumps(FLAGS) gives for
 * the object of the same members, when they are added in the order FLAGS asks for (by strcmp
 * of the keys under JSON_SORT_KEYS; nested objects are sorted here). */
struct pw_json_writer {
  struct pw_buf *out;
  size_t flags;
  size_t n; /* members written */
};

/* Starts the object in OUT (appended to). */
void pw_json_object_begin(struct pw_json_writer *w, struct pw_buf *out, size_t flags);

/* Adds the member KEY: VALUE. Returns 0 or a negative errno. */
int pw_json_object_add(struct pw_json_writer *w, const char *key, const json_t *value);

/* Ends the object. Returns 0 or a negative errno. */
int pw_json_object_end(struct pw_json_writer *w);

/* pw_json_dumps written to OUT. Returns 0, or -1 (as json_dumpf) when it could not be built or
 * written. */
int pw_json_dumpf(const json_t *doc, FILE *out, size_t flags);

#endif
