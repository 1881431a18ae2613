/*
 * cli: the `pacewatch` program, the county IT officer's tool beside the daemon: validate a
 * configuration, import a spreadsheet export, record a figure by hand, judge every indicator
 * as of any instant, and export what is stored. Exit status: 0 success, 1 runtime or data
 * failure, 2 usage or configuration error (CONTRACT section 1).
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "briefing.h"
#include "config.h"
#include "derive.h"
#include "graph.h"
#include "journal.h"
#include "judge.h"
#include "log.h"
#include "plugin_host.h"
#include "silence.h"
#include "status.h"
#include "store.h"
#include "util.h"
#include "value.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli {
  const char *config_path;
  const char *at, *as_of, *from, *to, *format, *output, *until, *reason;
  int json;
  int argc; /* positional arguments after the command */
  char **argv;
  struct pw_config *conf;
};

static void usage(FILE *out) {
  fputs("usage: pacewatch COMMAND -c FILE [options]\n"
        "\n"
        "commands:\n"
        "  check  -c FILE                          validate a configuration\n"
        "  status -c FILE [--at TIME] [--json]     judge every indicator as of TIME\n"
        "  import -c FILE CSV                      load samples (indicator,as_of,value)\n"
        "  record -c FILE ID VALUE [--as-of TIME]  add one sample by hand\n"
        "  export -c FILE ID [--from TIME] [--to TIME] [--format csv|json]\n"
        "  rebuild -c FILE                         regenerate every RRD file from the journal\n"
        "  graph -c FILE ID [--at TIME] [--format png|svg] -o OUT\n"
        "                                          one indicator's trend graph for the year\n"
        "  briefing -c FILE [--at TIME] [-o DIR]   the weekly briefing (HTML and Markdown)\n"
        "  silence -c FILE add ID --until DATE [--reason TEXT] | list | remove ID\n"
        "\n"
        "TIME is YYYY-MM-DD (the end of that day) or an ISO 8601 date-time with offset.\n",
        out);
}

static int load_config(struct cli *c) {
  char err[1024];

  if (c->config_path == NULL) {
    fprintf(stderr, "pacewatch: -c FILE is required\n");
    return EXIT_USAGE;
  }
  if (pw_config_load(c->config_path, &c->conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return EXIT_USAGE;
  }
  pw_log_set_level((enum pw_log_level)c->conf->daemon.log_level);
  return EXIT_OK;
}

/* Parses a TIME argument; returns 0 or prints an error and returns -EINVAL. */
static int parse_time_arg(const char *opt, const char *text, int64_t *out) {
  if (pw_date_parse(text, out) < 0) {
    fprintf(stderr,
            "pacewatch: %s '%s' is not a time (YYYY-MM-DD or e.g. 2024-04-30T12:00:00+08:00)\n",
            opt, text);
    return -EINVAL;
  }
  return 0;
}

static int find_indicator(struct cli *c, const char *id) {
  int i = pw_config_indicator_index(c->conf, id);

  if (i < 0)
    fprintf(stderr, "pacewatch: unknown indicator '%s' (not in %s)\n", id, c->config_path);
  return i;
}

struct import_row {
  int line;
  int ind;
  int64_t as_of;
  double value;
};

struct counts {
  unsigned long fresh, dups, revs;
};

/* Writes REQ into the daemon's inbox and waits for its reply (the daemon takes requests every
 * second). Returns 0 with *REPLY (owned) or a negative errno. */
static int ask_daemon(struct cli *c, json_t *req, json_t **reply) {
  char dir[4096], tmp[4400], path[4400], rpath[4400];
  char *text = json_dumps(req, JSON_COMPACT);
  json_error_t jerr;
  int i, rc;

  *reply = NULL;
  if (text == NULL)
    return -ENOMEM;
  snprintf(dir, sizeof(dir), "%s/inbox", c->conf->daemon.state_dir);
  pw_mkdir_p(dir);
  snprintf(tmp, sizeof(tmp), "%s/%ld-%lld.tmp", dir, (long)getpid(), (long long)pw_clock_real_ms());
  snprintf(path, sizeof(path), "%.*s.req", (int)(strlen(tmp) - 4), tmp);
  snprintf(rpath, sizeof(rpath), "%.*s.reply", (int)(strlen(tmp) - 4), tmp);
  rc = pw_write_file_atomic(tmp, text, strlen(text));
  free(text);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc < 0) {
    fprintf(stderr, "pacewatch: cannot write to the daemon's inbox %s: %s\n", dir, strerror(-rc));
    unlink(tmp);
    return rc;
  }
  for (i = 0; i < 600; i++) {
    if (access(rpath, F_OK) == 0) {
      *reply = json_load_file(rpath, 0, &jerr);
      unlink(rpath);
      return *reply ? 0 : -EIO;
    }
    usleep(100 * 1000);
  }
  unlink(path);
  fprintf(stderr, "pacewatch: the running pacewatchd did not take the request within 60 s\n");
  return -ETIMEDOUT;
}

static int reply_counts(json_t *reply, struct counts *out) {
  json_int_t n = 0, d = 0, r = 0;
  const char *msg = "no reason given";
  int ok = 0;

  json_unpack(reply, "{s:b}", "ok", &ok);
  if (!ok) {
    json_unpack(reply, "{s:s}", "error", &msg);
    fprintf(stderr, "pacewatch: the running pacewatchd refused the request: %s\n", msg);
    return -EINVAL;
  }
  json_unpack(reply, "{s:I,s:I,s:I}", "new", &n, "duplicates", &d, "revisions", &r);
  out->fresh = (unsigned long)n;
  out->dups = (unsigned long)d;
  out->revs = (unsigned long)r;
  return 0;
}

/* Updates the RRD files of the indicators marked in MASK after a write without a daemon. */
static void sync_rrd(struct cli *c, struct pw_journal *j, const unsigned char *mask) {
  struct pw_store store;
  char err[1024];

  if (pw_store_init(&store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err,
                    sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s (the journal is written; run pacewatch rebuild)\n", err);
    return;
  }
  if (pw_derive_rebuild(c->conf, j, &store, mask) > 0)
    fprintf(stderr, "pacewatch: some RRD files could not be updated (the journal is written; "
                    "run pacewatch rebuild)\n");
  pw_store_free(&store);
}

/* Stores ROWS (validated, sorted by indicator and as_of) as samples from SOURCE: directly
 * under the state lock, or through a running daemon's inbox. Returns 0 or a negative errno
 * (already reported). */
static int apply_rows(struct cli *c, const struct import_row *rows, size_t n, const char *source,
                      int64_t now, struct counts *out) {
  struct pw_journal *j = NULL;
  unsigned char *mask = NULL;
  char err[1024];
  int lock_fd, rc;
  size_t i;

  memset(out, 0, sizeof(*out));
  lock_fd = pw_state_lock(c->conf->daemon.state_dir);
  if (lock_fd == -EWOULDBLOCK) {
    json_t *req = json_pack("{s:s,s:s,s:I,s:[]}", "op", "samples", "source", source, "fetched_at",
                            (json_int_t)now, "rows");
    json_t *list = json_object_get(req, "rows"), *reply;
    for (i = 0; i < n; i++)
      json_array_append_new(list, json_pack("{s:s,s:I,s:f}", "indicator",
                                            c->conf->indicators[rows[i].ind].id, "as_of",
                                            (json_int_t)rows[i].as_of, "value", rows[i].value));
    rc = ask_daemon(c, req, &reply);
    json_decref(req);
    if (rc == 0)
      rc = reply_counts(reply, out);
    json_decref(reply);
    return rc;
  }
  if (lock_fd < 0) {
    fprintf(stderr, "pacewatch: cannot lock %s: %s\n", c->conf->daemon.state_dir,
            strerror(-lock_fd));
    return lock_fd;
  }
  rc = pw_journal_open(c->conf, 1, &j, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    close(lock_fd);
    return rc;
  }
  mask = calloc((size_t)c->conf->n_indicators + 1, 1);
  for (i = 0; i < n && mask != NULL; i++) {
    switch (pw_journal_classify(j, rows[i].ind, rows[i].as_of, rows[i].value, 1)) {
    case PW_SAMPLE_DUPLICATE:
    case PW_SAMPLE_UNCHANGED:
      out->dups++;
      continue;
    case PW_SAMPLE_REVISION:
      out->revs++;
      break;
    case PW_SAMPLE_NEW:
      out->fresh++;
      break;
    }
    mask[rows[i].ind] = 1;
    if (pw_journal_add(j, rows[i].ind, rows[i].as_of, rows[i].value, now, source) < 0) {
      rc = -ENOMEM;
      break;
    }
  }
  if (mask == NULL)
    rc = -ENOMEM;
  if (rc == 0)
    rc = pw_journal_commit(j);
  if (rc < 0)
    fprintf(stderr, "pacewatch: cannot write the journal %s: %s\n", j->path, strerror(-rc));
  else
    sync_rrd(c, j, mask);
  free(mask);
  pw_journal_close(j);
  close(lock_fd);
  return rc;
}

static int open_for_reading(struct cli *c, struct pw_journal **j) {
  char err[1024];

  if (pw_journal_open(c->conf, 0, j, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    return -EIO;
  }
  return 0;
}

static int cmd_check(struct cli *c) {
  struct pw_plugins *plugins;
  char err[1024];
  int i, with_targets = 0;

  /* Paths are checked by the sources' parser plugins, as pacewatchd -t does. */
  if (pw_plugins_load(&plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    return EXIT_FAIL;
  }
  if (pw_plugins_check_config(plugins, c->conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    pw_plugins_free(plugins);
    return EXIT_USAGE;
  }
  pw_plugins_free(plugins);

  for (i = 0; i < c->conf->n_indicators; i++)
    with_targets += c->conf->indicators[i].n_targets > 0;
  printf("%s: ok (%d domains, %d departments, %d sources, %d indicators of which %d with "
         "targets, %d receivers; time zone %s)\n",
         c->config_path, c->conf->n_domains, c->conf->n_departments, c->conf->n_sources,
         c->conf->n_indicators, with_targets, c->conf->n_receivers, c->conf->daemon.timezone);
  return EXIT_OK;
}

static int cmd_status(struct cli *c) {
  struct pw_journal *j;
  int64_t at = pw_clock_now();

  if (c->argc != 0) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (c->at && parse_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (open_for_reading(c, &j) < 0)
    return EXIT_FAIL;
  if (c->json) {
    json_t *doc = pw_status_json(c->conf, j->series, at);
    if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) < 0) {
      json_decref(doc);
      pw_journal_close(j);
      return EXIT_FAIL;
    }
    fputc('\n', stdout);
    json_decref(doc);
  } else {
    pw_status_table(stdout, c->conf, j->series, at, isatty(STDOUT_FILENO));
  }
  pw_journal_close(j);
  return EXIT_OK;
}

/* ---- import ---- */

/* Splits one CSV record (RFC 4180) starting at *P into up to MAXF fields, unquoting into BUF.
 * Advances *P past the record and counts physical lines in *LINES. Returns the number of
 * fields, or -EINVAL for a malformed quote. */
static int csv_record(const char **p, const char *end, char *buf, size_t bufsize, char **fields,
                      int maxf, int *lines) {
  const char *s = *p;
  size_t o = 0;
  int nf = 0;

  fields[nf++] = buf;
  while (s < end && *s != '\n') {
    if (*s == '"' && (o == 0 || buf[o - 1] == '\0')) {
      for (s++;; s++) {
        if (s >= end)
          return -EINVAL;
        if (*s == '"') {
          if (s + 1 < end && s[1] == '"') {
            s++;
          } else {
            s++;
            break;
          }
        }
        if (*s == '\n')
          (*lines)++;
        if (o + 1 >= bufsize)
          return -E2BIG;
        buf[o++] = *s;
      }
      if (s < end && *s != ',' && *s != '\n' && *s != '\r')
        return -EINVAL;
      continue;
    }
    if (*s == ',') {
      if (o + 1 >= bufsize)
        return -E2BIG;
      buf[o++] = '\0';
      if (nf < maxf)
        fields[nf] = buf + o;
      nf++;
      s++;
      continue;
    }
    if (*s == '\r' && (s + 1 == end || s[1] == '\n')) {
      s++;
      continue;
    }
    if (o + 1 >= bufsize)
      return -E2BIG;
    buf[o++] = *s++;
  }
  buf[o] = '\0';
  *p = s < end ? s + 1 : s;
  return nf;
}

static char *trim(char *s) {
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

static int row_cmp(const void *a, const void *b) {
  const struct import_row *x = a, *y = b;

  if (x->ind != y->ind)
    return x->ind < y->ind ? -1 : 1;
  if (x->as_of != y->as_of)
    return x->as_of < y->as_of ? -1 : 1;
  return 0;
}

/* Reads and validates every row first; nothing is written unless all of them are good. */
static int cmd_import(struct cli *c) {
  const char *path;
  char *text = NULL, *buf = NULL;
  size_t len;
  const char *p, *end;
  struct import_row *rows = NULL;
  size_t n = 0, cap = 0, i;
  int line = 1, rc, nf, ret = EXIT_FAIL;
  char *f[8];
  int64_t now = pw_clock_now();
  unsigned long skipped = 0;
  struct counts cnt;

  if (c->argc != 1) {
    usage(stderr);
    return EXIT_USAGE;
  }
  path = c->argv[0];
  rc = pw_read_file(path, 256u << 20, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-rc));
    return EXIT_FAIL;
  }
  if (!pw_utf8_valid(text, len)) {
    fprintf(stderr, "%s:1: the file is not UTF-8 (save the spreadsheet as CSV UTF-8)\n", path);
    goto out;
  }
  p = text;
  end = text + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  buf = malloc(len + 16);
  if (buf == NULL)
    goto out;
  nf = csv_record(&p, end, buf, len + 16, f, 8, &line);
  if (nf != 3 || strcmp(trim(f[0]), "indicator") != 0 || strcmp(trim(f[1]), "as_of") != 0 ||
      strcmp(trim(f[2]), "value") != 0) {
    fprintf(stderr, "%s:1: the header must be exactly: indicator,as_of,value\n", path);
    goto out;
  }
  while (p < end) {
    int row_line = ++line;
    struct import_row r;
    char *id, *date, *val;
    const struct pw_indicator *ind;

    nf = csv_record(&p, end, buf, len + 16, f, 8, &line);
    if (nf < 0) {
      fprintf(stderr, "%s:%d: malformed quoting\n", path, row_line);
      goto out;
    }
    if (nf == 1 && trim(f[0])[0] == '\0')
      continue; /* a blank line */
    if (nf != 3) {
      fprintf(stderr, "%s:%d: expected 3 fields (indicator,as_of,value), found %d\n", path,
              row_line, nf);
      goto out;
    }
    id = trim(f[0]);
    date = trim(f[1]);
    val = trim(f[2]);
    r.line = row_line;
    r.ind = pw_config_indicator_index(c->conf, id);
    if (r.ind < 0) {
      fprintf(stderr, "%s:%d: unknown indicator '%s'\n", path, row_line, id);
      goto out;
    }
    ind = &c->conf->indicators[r.ind];
    if (pw_date_parse(date, &r.as_of) < 0) {
      fprintf(stderr, "%s:%d: indicator '%s': bad date '%s'\n", path, row_line, id, date);
      goto out;
    }
    rc = pw_sample_value_parse(ind, val, &r.value);
    if (rc == PW_VALUE_NOT_PUBLISHED) {
      skipped++;
      continue;
    }
    if (rc < 0) {
      if (ind->kind == PW_KIND_MILESTONE)
        fprintf(stderr,
                "%s:%d: indicator '%s': '%s' is neither a stage name nor a stage index "
                "0..%d\n",
                path, row_line, id, val, ind->stages.n - 1);
      else
        fprintf(stderr, "%s:%d: indicator '%s': bad value '%s'\n", path, row_line, id, val);
      goto out;
    }
    if (r.as_of > now + 86400) {
      fprintf(stderr, "%s:%d: indicator '%s': as_of %s is later than tomorrow\n", path, row_line,
              id, date);
      goto out;
    }
    if (n == cap) {
      struct import_row *nr;
      cap = cap ? cap * 2 : 256;
      nr = realloc(rows, cap * sizeof(*nr));
      if (nr == NULL)
        goto out;
      rows = nr;
    }
    rows[n++] = r;
  }
  qsort(rows, n, sizeof(*rows), row_cmp);
  for (i = 1; i < n; i++) {
    if (rows[i].ind == rows[i - 1].ind && rows[i].as_of == rows[i - 1].as_of) {
      int a = rows[i].line < rows[i - 1].line ? rows[i].line : rows[i - 1].line;
      int b = rows[i].line < rows[i - 1].line ? rows[i - 1].line : rows[i].line;
      fprintf(stderr, "%s:%d: indicator '%s' has the same as_of as line %d\n", path, b,
              c->conf->indicators[rows[i].ind].id, a);
      goto out;
    }
  }

  if (apply_rows(c, rows, n, "import", now, &cnt) < 0)
    goto out;
  printf("%s: %lu new samples, %lu duplicates, %lu revisions, %lu not published (skipped)\n", path,
         cnt.fresh, cnt.dups, cnt.revs, skipped);
  ret = EXIT_OK;
out:
  free(rows);
  free(buf);
  free(text);
  return ret;
}

static int cmd_record(struct cli *c) {
  int ind, rc;
  int64_t now = pw_clock_now(), as_of = now;
  double value;
  struct import_row row;
  struct counts cnt;
  char t[40], v[40];

  if (c->argc != 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  ind = find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if (c->as_of && parse_time_arg("--as-of", c->as_of, &as_of) < 0)
    return EXIT_USAGE;
  rc = pw_sample_value_parse(&c->conf->indicators[ind], c->argv[1], &value);
  if (rc == PW_VALUE_NOT_PUBLISHED) {
    fprintf(stderr, "pacewatch: '%s' means not published; nothing recorded for '%s'\n", c->argv[1],
            c->argv[0]);
    return EXIT_FAIL;
  }
  if (rc < 0) {
    fprintf(stderr, "pacewatch: indicator '%s': bad value '%s'\n", c->argv[0], c->argv[1]);
    return EXIT_FAIL;
  }
  if (as_of > now + 86400) {
    fprintf(stderr, "pacewatch: indicator '%s': as_of %s is later than tomorrow\n", c->argv[0],
            c->as_of);
    return EXIT_FAIL;
  }
  row.line = 0;
  row.ind = ind;
  row.as_of = as_of;
  row.value = value;
  if (apply_rows(c, &row, 1, "record", now, &cnt) < 0)
    return EXIT_FAIL;
  if (cnt.dups > 0) {
    printf("%s: the same value is already stored for this date; nothing recorded\n", c->argv[0]);
    return EXIT_OK;
  }
  printf("%s: recorded %s %s as of %s\n", c->argv[0], cnt.revs ? "revision" : "new sample",
         pw_value_format(value, v, sizeof(v)), pw_calendar_format(as_of, t, sizeof(t)));
  return EXIT_OK;
}

static int cmd_rebuild(struct cli *c) {
  struct pw_journal *j = NULL;
  struct pw_store store;
  char err[1024];
  int lock_fd, failures;

  if (c->argc != 0) {
    usage(stderr);
    return EXIT_USAGE;
  }
  lock_fd = pw_state_lock(c->conf->daemon.state_dir);
  if (lock_fd == -EWOULDBLOCK) {
    json_t *req = json_pack("{s:s}", "op", "rebuild"), *reply;
    struct counts cnt;
    int rc = ask_daemon(c, req, &reply);
    json_decref(req);
    if (rc == 0)
      rc = reply_counts(reply, &cnt);
    json_decref(reply);
    if (rc < 0)
      return EXIT_FAIL;
    printf("the running pacewatchd rebuilt every RRD file from the journal\n");
    return EXIT_OK;
  }
  if (lock_fd < 0) {
    fprintf(stderr, "pacewatch: cannot lock %s: %s\n", c->conf->daemon.state_dir,
            strerror(-lock_fd));
    return EXIT_FAIL;
  }
  if (pw_journal_open(c->conf, 0, &j, err, sizeof(err)) < 0 ||
      pw_store_init(&store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err,
                    sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    pw_journal_close(j);
    close(lock_fd);
    return EXIT_FAIL;
  }
  failures = pw_derive_rebuild(c->conf, j, &store, NULL);
  printf("rebuilt %d RRD files from %llu journal lines%s\n", c->conf->n_indicators - failures,
         (unsigned long long)j->lines, failures ? " (some failed: see above)" : "");
  pw_store_free(&store);
  pw_journal_close(j);
  close(lock_fd);
  return failures ? EXIT_FAIL : EXIT_OK;
}

static int cmd_export(struct cli *c) {
  struct pw_journal *j;
  const struct pw_series *s;
  int ind, json;
  int64_t from = INT64_MIN, to = INT64_MAX;
  json_t *arr = NULL;
  size_t i;

  if (c->argc != 1) {
    usage(stderr);
    return EXIT_USAGE;
  }
  ind = find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if ((c->from && parse_time_arg("--from", c->from, &from) < 0) ||
      (c->to && parse_time_arg("--to", c->to, &to) < 0))
    return EXIT_USAGE;
  if (c->format && strcmp(c->format, "csv") != 0 && strcmp(c->format, "json") != 0) {
    fprintf(stderr, "pacewatch: --format must be csv or json\n");
    return EXIT_USAGE;
  }
  json = c->format && strcmp(c->format, "json") == 0;
  if (open_for_reading(c, &j) < 0)
    return EXIT_FAIL;
  s = &j->series[ind];
  if (json)
    arr = json_array();
  else
    printf("indicator,as_of,value,fetched_at,revision\n");
  for (i = 0; i < s->n; i++) {
    const struct pw_sample *x = &s->samples[i];
    char a[40], f[40], v[40];
    if (x->as_of < from || x->as_of > to)
      continue;
    pw_calendar_format(x->as_of, a, sizeof(a));
    pw_calendar_format(x->fetched_at, f, sizeof(f));
    if (json) {
      json_t *o = json_object();
      json_object_set_new(o, "indicator", json_string(c->conf->indicators[ind].id));
      json_object_set_new(o, "as_of", json_string(a));
      json_object_set_new(o, "value", pw_status_number(x->value));
      json_object_set_new(o, "fetched_at", json_string(f));
      json_object_set_new(o, "revision", json_integer(x->rev));
      json_array_append_new(arr, o);
    } else {
      printf("%s,%s,%s,%s,%u\n", c->conf->indicators[ind].id, a,
             pw_value_format(x->value, v, sizeof(v)), f, x->rev);
    }
  }
  if (json) {
    json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(arr);
  }
  pw_journal_close(j);
  return EXIT_OK;
}

/* Opens what the graph and briefing readers need: the journal and the store (read-only use). */
static int open_readers(struct cli *c, struct pw_journal **j, struct pw_store *store, char *tmp_dir,
                        size_t tmp_size) {
  char err[1024];

  if (open_for_reading(c, j) < 0)
    return -EIO;
  if (pw_store_init(store, c->conf->daemon.state_dir, c->conf->daemon.rrdcached, err, sizeof(err)) <
      0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    pw_journal_close(*j);
    return -EIO;
  }
  snprintf(tmp_dir, tmp_size, "%s/graphs", c->conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  return 0;
}

static int cmd_graph(struct cli *c) {
  struct pw_journal *j;
  struct pw_store store;
  struct pw_graph_request req;
  struct pw_verdict v;
  char err[1024], tmp_dir[4200];
  int64_t at = pw_clock_now();
  int ind, rc;

  if (c->argc != 1 || c->output == NULL) {
    fprintf(stderr, "pacewatch: graph needs an indicator id and -o OUT\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  ind = find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if (c->at && parse_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (c->format && strcmp(c->format, "png") != 0 && strcmp(c->format, "svg") != 0) {
    fprintf(stderr, "pacewatch: --format must be png or svg\n");
    return EXIT_USAGE;
  }
  if (open_readers(c, &j, &store, tmp_dir, sizeof(tmp_dir)) < 0)
    return EXIT_FAIL;
  pw_status_judge(c->conf, j->series, ind, at, &v);
  memset(&req, 0, sizeof(req));
  req.conf = c->conf;
  req.ind = ind;
  req.store = &store;
  req.verdict = &v;
  req.at = at;
  req.format = c->format && strcmp(c->format, "svg") == 0 ? PW_GRAPH_SVG : PW_GRAPH_PNG;
  req.out_path = c->output;
  req.tmp_dir = tmp_dir;
  rc = pw_graph_render(&req, NULL, err, sizeof(err));
  if (rc < 0)
    fprintf(stderr, "pacewatch: %s\n", err);
  pw_store_free(&store);
  pw_journal_close(j);
  return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

static int cmd_briefing(struct cli *c) {
  struct pw_journal *j;
  struct pw_store store;
  struct pw_briefing_request req;
  struct pw_briefing_result res;
  char err[1024], tmp_dir[4200];
  int64_t at = pw_clock_now();
  int rc;

  if (c->argc != 0) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (c->at && parse_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (open_readers(c, &j, &store, tmp_dir, sizeof(tmp_dir)) < 0)
    return EXIT_FAIL;
  memset(&req, 0, sizeof(req));
  req.conf = c->conf;
  req.journal = j;
  req.store = &store;
  req.at = at;
  req.out_dir = c->output ? c->output : ".";
  req.graphs = 1;
  rc = pw_briefing_write(&req, &res, err, sizeof(err));
  if (rc < 0)
    fprintf(stderr, "pacewatch: %s\n", err);
  else
    printf("briefing %s: %s, %s\n", res.name, res.html_path, res.md_path);
  pw_store_free(&store);
  pw_journal_close(j);
  return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

/* `silence add ID --until DATE [--reason TEXT]`, `silence list`, `silence remove ID`: kept in
 * state_dir/silences.json, which a running daemon re-reads every minute. The file is small and
 * written atomically, so the CLI edits it itself even beside a running daemon. */
static int cmd_silence(struct cli *c) {
  const char *op = c->argc > 0 ? c->argv[0] : "";
  const char *state = c->conf->daemon.state_dir;
  json_t *list;
  int64_t now = pw_clock_now();
  size_t i;
  json_t *s;

  pw_mkdir_p(state);
  list = pw_silence_load(state);
  if (list == NULL)
    return EXIT_FAIL;
  if (strcmp(op, "list") == 0 && c->argc == 1) {
    char t[40];
    for (i = 0; i < (size_t)c->conf->n_silences; i++) {
      const struct pw_silence *cs = &c->conf->silences[i];
      printf("%s\tuntil %s\t%s\t(configuration)\n", cs->indicator,
             pw_calendar_format(cs->until, t, sizeof(t)), cs->reason);
    }
    json_array_foreach(list, i, s) {
      json_int_t until = json_integer_value(json_object_get(s, "until"));
      const char *reason = json_string_value(json_object_get(s, "reason"));
      printf("%s\tuntil %s\t%s%s\n", json_string_value(json_object_get(s, "indicator")),
             pw_calendar_format(until, t, sizeof(t)), reason ? reason : "",
             until <= now ? "\t(ended)" : "");
    }
    json_decref(list);
    return EXIT_OK;
  }
  if (strcmp(op, "add") == 0 && c->argc == 2) {
    int64_t until;
    if (find_indicator(c, c->argv[1]) < 0) {
      json_decref(list);
      return EXIT_USAGE;
    }
    if (c->until == NULL || parse_time_arg("--until", c->until, &until) < 0) {
      fprintf(stderr, "pacewatch: silence add needs --until DATE\n");
      json_decref(list);
      return EXIT_USAGE;
    }
    json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:I}", "indicator", c->argv[1], "until",
                                          (json_int_t)until, "reason", c->reason ? c->reason : "",
                                          "created", (json_int_t)now));
  } else if (strcmp(op, "remove") == 0 && c->argc == 2) {
    size_t kept = 0;
    json_t *out = json_array();
    json_array_foreach(list, i, s) {
      const char *id = json_string_value(json_object_get(s, "indicator"));
      if (id == NULL || strcmp(id, c->argv[1]) != 0) {
        json_array_append(out, s);
        kept++;
      }
    }
    if (kept == json_array_size(list)) {
      fprintf(stderr, "pacewatch: no silence of '%s' in %s/silences.json\n", c->argv[1], state);
      json_decref(out);
      json_decref(list);
      return find_indicator(c, c->argv[1]) < 0 ? EXIT_USAGE : EXIT_FAIL;
    }
    json_decref(list);
    list = out;
  } else {
    fprintf(stderr, "usage: pacewatch silence -c FILE add ID --until DATE [--reason TEXT] | "
                    "list | remove ID\n");
    json_decref(list);
    return EXIT_USAGE;
  }
  if (pw_silence_save(state, list) < 0) {
    fprintf(stderr, "pacewatch: cannot write %s/silences.json\n", state);
    json_decref(list);
    return EXIT_FAIL;
  }
  printf("%s: silence %s %s\n", c->argv[1], op, strcmp(op, "add") == 0 ? "added" : "done");
  json_decref(list);
  return EXIT_OK;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'}, {"at", required_argument, NULL, 'a'},
      {"json", no_argument, NULL, 'j'},         {"as-of", required_argument, NULL, 'A'},
      {"output", required_argument, NULL, 'o'}, {"until", required_argument, NULL, 'U'},
      {"reason", required_argument, NULL, 'R'}, {"from", required_argument, NULL, 'F'},
      {"to", required_argument, NULL, 'T'},     {"format", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  static const struct {
    const char *name;
    int (*fn)(struct cli *);
  } cmds[] = {{"check", cmd_check},     {"status", cmd_status},
              {"import", cmd_import},   {"record", cmd_record},
              {"export", cmd_export},   {"rebuild", cmd_rebuild},
              {"graph", cmd_graph},     {"briefing", cmd_briefing},
              {"silence", cmd_silence}, {NULL, NULL}};
  struct cli c;
  const char *cmd;
  int opt, k, rc;

  memset(&c, 0, sizeof(c));
  pw_log_open(0);
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  cmd = argv[1];
  for (k = 0; cmds[k].name; k++)
    if (strcmp(cmds[k].name, cmd) == 0)
      break;
  if (cmds[k].name == NULL) {
    fprintf(stderr, "pacewatch: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
  }
  optind = 2;
  while ((opt = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      c.config_path = optarg;
      break;
    case 'a':
      c.at = optarg;
      break;
    case 'j':
      c.json = 1;
      break;
    case 'A':
      c.as_of = optarg;
      break;
    case 'o':
      c.output = optarg;
      break;
    case 'U':
      c.until = optarg;
      break;
    case 'R':
      c.reason = optarg;
      break;
    case 'F':
      c.from = optarg;
      break;
    case 'T':
      c.to = optarg;
      break;
    case 'm':
      c.format = optarg;
      break;
    case 'h':
      usage(stdout);
      return EXIT_OK;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  c.argc = argc - optind;
  c.argv = argv + optind;
  rc = load_config(&c);
  if (rc != EXIT_OK)
    return rc;
  rc = cmds[k].fn(&c);
  pw_config_free(c.conf);
  return rc;
}
