/*
 * journal: the append-only record of truth. Every accepted sample is one human-readable,
 * tab-separated line (as_of, indicator, value, fetched_at, source and, when the sample has one,
 * its note), fsync'd before it counts; retraction and explanation lines beside them
 * (docs/storage.md#retractions, #explanations).
 * The whole journal is held in memory as one series per configured indicator, in journal
 * order, which is what judge, export and the RRD store read. A torn last line (a crash in the
 * middle of a write) is skipped with a warning.
 */
#ifndef PW_JOURNAL_H
#define PW_JOURNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "judge.h"
#include "util.h"

struct pw_journal {
  char *path;
  int fd; /* open for appending, or -1 when read-only */
  const struct pw_config *conf;
  struct pw_series *series; /* one per configured indicator, in configuration order */
  int n_series;
  struct pw_buf pending; /* lines added but not yet committed */
  int needs_newline;     /* the file ends in a torn line */
  uint64_t lines, skipped, foreign;
  size_t cap_hint;    /* while loading: a series' first allocation, from the file's size */
  uint64_t loaded_to; /* bytes of the file read into the series (pw_journal_catch_up) */
  uint64_t lineno;    /* lines of the file read, for messages */
  int tail_torn;      /* the file read so far ends in an incomplete line, left unread */
};

/* The instants a sample may carry (its as_of and its fetched_at): from 1971-01-01T00:00:00Z up
 * to, not including, 2101-01-01T00:00:00Z (docs/values.md). Every instant of that range is
 * written with a four-digit year and read back, lies in years the calendar holds (judge), and
 * can be stored in an RRD file (librrd cannot start a file at or before the epoch, and a file
 * starts one step before its first point). Outside it a date is a mistake: a zero, a timestamp
 * in the wrong unit. */
#define PW_JOURNAL_TIME_MIN INT64_C(31536000)   /* 1971-01-01T00:00:00Z */
#define PW_JOURNAL_TIME_END INT64_C(4133980800) /* 2101-01-01T00:00:00Z, excluded */
#define PW_JOURNAL_YEARS "1971 to 2100 (UTC)"

/* Whether T is an instant the journal keeps. */
static inline int pw_journal_time_ok(int64_t t) {
  return t >= PW_JOURNAL_TIME_MIN && t < PW_JOURNAL_TIME_END;
}

/* Whether V is a figure the journal writes and reads back exactly: finite, and not subnormal
 * (5e-324 is written, but the reader refuses what underflows). */
static inline int pw_journal_value_ok(double v) {
  return isfinite(v) && fpclassify(v) != FP_SUBNORMAL;
}

enum pw_sample_class {
  PW_SAMPLE_NEW = 0,   /* newer than anything stored */
  PW_SAMPLE_DUPLICATE, /* equal to the newest stored revision of its as_of */
  PW_SAMPLE_REVISION,  /* a changed value for a stored as_of, or an earlier as_of */
  PW_SAMPLE_UNCHANGED  /* no own as_of, same value, and the last one is less than a day old */
};

/* Opens STATE_DIR/journal/journal.tsv and loads it for CONF. With WRITABLE the directory is
 * created and the file opened for appending (the caller must hold the state lock). Returns 0
 * and *OUT (owned; free with pw_journal_close), or a negative errno with a message in ERR. */
int pw_journal_open(const struct pw_config *conf, int writable, struct pw_journal **out, char *err,
                    size_t errlen);

/* Reading the journal again for a new configuration (a reload) without blocking the loop:
 * pw_journal_open(CONF, 0, ...) loads the file on the thread pool and remembers how far it read;
 * then, on the loop, once the running journal has nothing pending (its lines are all in the
 * file), pw_journal_catch_up reads the lines committed since (a tail read of what the loop
 * committed meanwhile) into J, so that every line is in J exactly once, and with WRITABLE
 * opens the file for appending: J can then replace the running journal. Returns 0, or a
 * negative errno with a message in ERR, and J is then only fit to be closed. */
int pw_journal_catch_up(struct pw_journal *j, int writable, char *err, size_t errlen);

/* Classifies a candidate sample of indicator IND against what is stored (docs/judgement.md).
 * OWN_AS_OF says whether the as_of came with the data (0 = it is the fetch time: the sample is
 * then confirmed against the sample effective at that time, docs/values.md). */
enum pw_sample_class pw_journal_classify(const struct pw_journal *j, int ind, int64_t as_of,
                                         double value, int own_as_of);

/* Adds a sample to indicator IND in memory and to the pending lines. SOURCE names where it
 * came from ("import", "record" or a source id). Returns 0 or -ENOMEM. */
int pw_journal_add(struct pw_journal *j, int ind, int64_t as_of, double value, int64_t fetched_at,
                   const char *source);

/* pw_journal_add with the sample's NOTE (borrowed, copied; NULL for none; cleaned again with
 * pw_note_clean, so no tab or newline reaches the line). A sample whose value equals the newest
 * revision of its as_of is a note line (docs/storage.md): no new revision, the stored sample's
 * note is replaced. Returns 0, -ENOMEM, or -EILSEQ / -E2BIG for a note pw_note_clean refuses. */
int pw_journal_add_noted(struct pw_journal *j, int ind, int64_t as_of, double value,
                         int64_t fetched_at, const char *source, const char *note);

/* The newest revision of indicator IND's sample for AS_OF, or NULL when none is stored. The
 * pointer is valid until the next add to the journal. */
const struct pw_sample *pw_journal_find(const struct pw_journal *j, int ind, int64_t as_of);

/* The sample of IND effective at instant AT (known then, the newest known revision of the
 * latest as_of not after AT), the one a figure without an as_of of its own is confirmed against
 * (pw_journal_classify), or NULL. Valid until the next add. */
const struct pw_sample *pw_journal_effective(const struct pw_journal *j, int ind, int64_t at);

/* The longest source a retraction or an explanation line may name (bytes). */
#define PW_JOURNAL_SOURCE_MAX 64

/* For pw_journal_explain: the explanation is about the indicator's latest sample. */
#define PW_JOURNAL_AS_OF_LATEST INT64_MIN

/* Withdraws indicator IND's figure for AS_OF as of AT (docs/storage.md#retractions): a
 * retraction line is added to the pending lines and every revision of AS_OF leaves the series
 * (judge, the RRD file and status no longer see the as_of; the previous revision does not come
 * back, docs/judgement.md#retracted-samples) for the series' retracted list (export prints it).
 * A figure for AS_OF journaled later is a new sample. SOURCE names who withdrew it ("record",
 * "report:<department>"; 1 to PW_JOURNAL_SOURCE_MAX bytes without control characters); REASON
 * is required, cleaned like a note, up to PW_EXPLANATION_MAX characters. Durable once
 * committed, like a sample. Returns 0; -ENOENT when IND has no sample of AS_OF; -EINVAL,
 * -EILSEQ, -E2BIG or -ERANGE for a field refused; -ENOMEM. On failure ERR says why and nothing
 * changed. */
int pw_journal_retract(struct pw_journal *j, int ind, int64_t as_of, int64_t at, const char *source,
                       const char *reason, char *err, size_t errlen);

/* Records a department's explanation (说明) of indicator IND (docs/storage.md#explanations):
 * about AS_OF (PW_JOURNAL_AS_OF_LATEST: the latest sample's as_of, or AT when there is none),
 * given at AT by SOURCE; REASON (原因) and MEASURES (措施) (NULL = empty) are cleaned like notes,
 * up to PW_EXPLANATION_MAX characters each, not both empty; CATCH_UP (NULL or "" = none) is the
 * expected catch-up date "YYYY-MM-DD". The newest explanation is the indicator's current one.
 * Returns 0, or -EINVAL, -EILSEQ, -E2BIG, -ERANGE, -ENOMEM with ERR saying why (nothing
 * changed). */
int pw_journal_explain(struct pw_journal *j, int ind, int64_t as_of, int64_t at, const char *source,
                       const char *reason, const char *measures, const char *catch_up, char *err,
                       size_t errlen);

/* Indicator IND's current explanation (the newest), or NULL. Valid until the next explanation
 * added to J. */
const struct pw_explanation *pw_journal_explanation(const struct pw_journal *j, int ind);

/* Whether indicator IND has a withdrawn revision of AS_OF (a figure for it now rewrites what
 * the RRD file holds there: an unknown point). */
int pw_journal_withdrawn(const struct pw_journal *j, int ind, int64_t as_of);

/* Whether the LEN bytes at P are a date "YYYY-MM-DD" that exists, in the years 1971 to 2100. */
int pw_journal_date_ok(const char *p, size_t len);

/* Writes the pending lines and fsyncs the file. Returns 0 or a negative errno; after a failure
 * the file holds none of the pending lines (see pw_journal_append) and they stay pending. */
int pw_journal_commit(struct pw_journal *j);

/* Appends LEN bytes of DATA (whole lines) to the journal file FD and fsyncs it: the one way
 * lines reach the file, so that it never holds a fragment of a failed write. Returns 0, or a
 * negative errno after which the file is cut back to its length before the call (ftruncate),
 * and *KEPT is 0; should even that fail, *KEPT bytes of DATA are in the file and a retry must
 * resume after them. Blocking: call it off the loop. */
int pw_journal_append(int fd, const char *data, size_t len, size_t *kept);

/* A read-only copy of J's samples (no file, nothing pending) for a worker thread to read while
 * the loop goes on adding to J. Returns owned memory (free with pw_journal_close) or NULL. */
struct pw_journal *pw_journal_snapshot(const struct pw_journal *j);

/* Closes the file and frees the journal. Pending lines are dropped. Accepts NULL. */
void pw_journal_close(struct pw_journal *j);

/* Takes the state directory's lock (STATE_DIR/lock, flock). Returns the lock's fd, or
 * -EWOULDBLOCK when another process (a running daemon) holds it, or another negative errno. */
int pw_state_lock(const char *state_dir);

/* Parses the text of a sample's value for IND: for milestones a stage name or index first,
 * then the value grammar of section 3. Returns 0, PW_VALUE_NOT_PUBLISHED or -EINVAL. */
int pw_sample_value_parse(const struct pw_indicator *ind, const char *text, double *out);

#endif
