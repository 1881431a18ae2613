/*
 * journal: the append-only record of truth. Every accepted sample is one human-readable,
 * tab-separated line (as_of, indicator, value, fetched_at, source), fsync'd before it counts.
 * The whole journal is held in memory as one series per configured indicator, in journal
 * order, which is what judge, export and the RRD store read. A torn last line (a crash in the
 * middle of a write) is skipped with a warning.
 */
#ifndef PW_JOURNAL_H
#define PW_JOURNAL_H

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
 * OWN_AS_OF says whether the as_of came with the data (0 = it is the fetch time). */
enum pw_sample_class pw_journal_classify(const struct pw_journal *j, int ind, int64_t as_of,
                                         double value, int own_as_of);

/* Adds a sample to indicator IND in memory and to the pending lines. SOURCE names where it
 * came from ("import", "record" or a source id). Returns 0 or -ENOMEM. */
int pw_journal_add(struct pw_journal *j, int ind, int64_t as_of, double value, int64_t fetched_at,
                   const char *source);

/* Writes the pending lines and fsyncs the file. Returns 0 or a negative errno. */
int pw_journal_commit(struct pw_journal *j);

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
