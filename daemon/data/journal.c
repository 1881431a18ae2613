/*
 * journal: the append-only, human-readable record of every accepted sample, and its
 * in-memory index (one series per indicator). The file is the truth: RRD files and every
 * judgement are derived from it. Appends are batched and fsync'd once per commit, never once
 * per sample.
 */
#define PW_LOG_MODULE "journal"
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "value.h"

#define JOURNAL_HEADER                                                                             \
  "# pacewatch journal v1: as_of\tindicator\tvalue\tfetched_at\tsource\tnote (optional)\n"

/* Parses "YYYY-MM-DDTHH:MM:SS+HH:MM" (or Z) exactly as the journal writes it. */
static int parse_stamp(const char *p, size_t len, int64_t *out) {
  int v[6], k, sign, oh, om;
  static const int pos[6] = {0, 5, 8, 11, 14, 17};
  static const int width[6] = {4, 2, 2, 2, 2, 2};

  if (len < 20)
    return -EINVAL;
  for (k = 0; k < 6; k++) {
    int i, n = 0;
    for (i = 0; i < width[k]; i++) {
      char c = p[pos[k] + i];
      if (c < '0' || c > '9')
        return -EINVAL;
      n = n * 10 + (c - '0');
    }
    v[k] = n;
  }
  if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':')
    return -EINVAL;
  if (len == 20 && p[19] == 'Z') {
    *out = pw_calendar_utc(v[0], v[1], v[2], v[3], v[4], v[5]);
    return 0;
  }
  if (len != 25 || (p[19] != '+' && p[19] != '-') || p[22] != ':')
    return -EINVAL;
  sign = p[19] == '-' ? -1 : 1;
  oh = (p[20] - '0') * 10 + (p[21] - '0');
  om = (p[23] - '0') * 10 + (p[24] - '0');
  *out = pw_calendar_utc(v[0], v[1], v[2], v[3], v[4], v[5]) - sign * (oh * 3600 + om * 60);
  return 0;
}

/* The last stamp parsed in one column: an import or a poll writes many lines with the same
 * fetched_at, and a journal of a province is millions of lines. */
struct stamp_cache {
  char text[32];
  size_t len;
  int64_t value;
};

static int parse_stamp_cached(struct stamp_cache *c, const char *p, size_t len, int64_t *out) {
  if (len == c->len && memcmp(p, c->text, len) == 0) {
    *out = c->value;
    return 0;
  }
  if (parse_stamp(p, len, out) < 0)
    return -EINVAL;
  if (len < sizeof(c->text)) {
    memcpy(c->text, p, len);
    c->len = len;
    c->value = *out;
  }
  return 0;
}

/* Reads the figure of a journal line. Plain decimals of at most 15 significant digits take
 * the exact fast path (both the digits and the power of ten are exact doubles, so one
 * correctly rounded division gives what strtod gives); anything else goes to strtod. */
static int parse_value(const char *p, size_t len, double *out) {
  static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  char num[64], *e;
  size_t i = 0;
  uint64_t m = 0;
  int digits = 0, frac = -1, neg = 0;

  if (len == 0 || len >= sizeof(num))
    return -EINVAL;
  if (p[0] == '-') {
    neg = 1;
    i = 1;
  }
  for (; i < len; i++) {
    if (p[i] >= '0' && p[i] <= '9') {
      m = m * 10 + (uint64_t)(p[i] - '0');
      digits++;
      if (frac >= 0)
        frac++;
    } else if (p[i] == '.' && frac < 0) {
      frac = 0;
    } else {
      break;
    }
  }
  if (i == len && digits > 0 && digits <= 15 && frac != 0) {
    double v = (double)m;
    if (frac > 0)
      v /= pow10[frac];
    *out = neg ? -v : v;
    return 0;
  }
  memcpy(num, p, len);
  num[len] = '\0';
  errno = 0;
  *out = strtod(num, &e);
  if (*e != '\0' || errno != 0 || !isfinite(*out))
    return -EINVAL;
  return 0;
}

/* Gives sample X the note of NLEN bytes at NOTE (clean, docs/storage.md), replacing its own.
 * Returns 0 or -ENOMEM (X keeps its note). */
static int set_note(struct pw_sample *x, const char *note, size_t nlen) {
  char *copy;

  if (x->note != NULL && strlen(x->note) == nlen && memcmp(x->note, note, nlen) == 0)
    return 0;
  copy = malloc(nlen + 1);
  if (copy == NULL)
    return -ENOMEM;
  memcpy(copy, note, nlen);
  copy[nlen] = '\0';
  free((char *)x->note);
  x->note = copy;
  return 0;
}

/* A NUL-terminated copy of the N bytes at P, or NULL. */
static char *dup_n(const char *p, size_t n) {
  char *c = malloc(n + 1);

  if (c != NULL) {
    memcpy(c, p, n);
    c[n] = '\0';
  }
  return c;
}

/* Recomputes S's latest as_of and the index of its newest revision after samples left it. */
static void series_relatest(struct pw_series *s) {
  size_t i;

  s->max_as_of = 0;
  s->latest = 0;
  for (i = 0; i < s->n; i++)
    if (i == 0 || s->samples[i].as_of >= s->max_as_of) {
      s->max_as_of = s->samples[i].as_of;
      s->latest = i;
    }
}

/* Withdraws every revision of AS_OF from S's samples into S's retracted list, each with AT,
 * SOURCE and REASON (SLEN, RLEN bytes, clean). The as_of's figure is gone entirely: an older
 * revision does not come back (docs/judgement.md#retracted-samples). Returns 0, -ENOENT when S
 * holds no sample of AS_OF, or -ENOMEM (S unchanged). */
static int series_retract(struct pw_series *s, int64_t as_of, int64_t at, const char *source,
                          size_t slen, const char *reason, size_t rlen) {
  struct pw_retraction *r;
  char **strs;
  size_t i, w = 0, k = 0, found = 0;

  if (s->n == 0 || as_of > s->max_as_of)
    return -ENOENT;
  for (i = 0; i < s->n; i++)
    found += s->samples[i].as_of == as_of;
  if (found == 0)
    return -ENOENT;
  r = realloc(s->retracted, (s->n_retracted + found) * sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  s->retracted = r;
  strs = calloc(found * 2, sizeof(*strs));
  if (strs == NULL)
    return -ENOMEM;
  for (i = 0; i < found * 2; i++) {
    strs[i] = i % 2 == 0 ? dup_n(source, slen) : dup_n(reason, rlen);
    if (strs[i] == NULL) {
      while (i-- > 0)
        free(strs[i]);
      free(strs);
      return -ENOMEM;
    }
  }
  for (i = 0; i < s->n; i++) {
    if (s->samples[i].as_of != as_of) {
      s->samples[w++] = s->samples[i];
      continue;
    }
    r = &s->retracted[s->n_retracted++];
    r->sample = s->samples[i];
    r->at = at;
    r->source = strs[k++];
    r->reason = strs[k++];
  }
  free(strs);
  s->n = w;
  series_relatest(s);
  return 0;
}

/* Appends a copy of explanation E (its strings NUL-terminated and clean) to S. Returns 0 or
 * -ENOMEM (S unchanged). */
static int series_explain(struct pw_series *s, const struct pw_explanation *e) {
  struct pw_explanation *x, *p;
  char *src = strdup(e->source), *rea = strdup(e->reason), *mea = strdup(e->measures);

  p = src && rea && mea ? realloc(s->explanations, (s->n_explanations + 1) * sizeof(*p)) : NULL;
  if (p == NULL) {
    free(src);
    free(rea);
    free(mea);
    return -ENOMEM;
  }
  s->explanations = p;
  x = &p[s->n_explanations++];
  *x = *e;
  x->source = src;
  x->reason = rea;
  x->measures = mea;
  return 0;
}

/* Frees what S owns beyond its sample array: notes, withdrawn revisions, explanations. */
static void series_free_parts(struct pw_series *s) {
  size_t k;

  for (k = 0; k < s->n; k++)
    free((char *)s->samples[k].note);
  for (k = 0; k < s->n_retracted; k++) {
    free((char *)s->retracted[k].sample.note);
    free((char *)s->retracted[k].source);
    free((char *)s->retracted[k].reason);
  }
  free(s->retracted);
  for (k = 0; k < s->n_explanations; k++) {
    free((char *)s->explanations[k].source);
    free((char *)s->explanations[k].reason);
    free((char *)s->explanations[k].measures);
  }
  free(s->explanations);
}

int pw_journal_date_ok(const char *p, size_t len) {
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = 0, m, d;
  size_t i;

  if (len != 10 || p[4] != '-' || p[7] != '-')
    return 0;
  for (i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (p[i] < '0' || p[i] > '9'))
      return 0;
  for (i = 0; i < 4; i++)
    y = y * 10 + (p[i] - '0');
  m = (p[5] - '0') * 10 + (p[6] - '0');
  d = (p[8] - '0') * 10 + (p[9] - '0');
  if (y < 1971 || y > 2100 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
    return 0;
  return !(m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

/* Whether the LEN bytes at P are a source name a line may carry: 1 to PW_JOURNAL_SOURCE_MAX
 * bytes of UTF-8 without a control character (so no tab or newline). */
static int source_ok(const char *p, size_t len) {
  size_t i;

  if (len == 0 || len > PW_JOURNAL_SOURCE_MAX || !pw_utf8_valid(p, len))
    return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == 0x7F ||
        (c == 0xC2 && i + 1 < len && (unsigned char)p[i + 1] >= 0x80 &&
         (unsigned char)p[i + 1] <= 0x9F))
      return 0;
  }
  return 1;
}

/* Adds a line's sample to S. A line that repeats the value of the newest revision of its as_of
 * is a note line (docs/storage.md): not a revision; its note, when it has one, replaces that
 * sample's note. NOTE (NLEN bytes, clean) may be NULL. Returns 0 or -ENOMEM. */
static int series_push(struct pw_series *s, int64_t as_of, double value, int64_t fetched_at,
                       size_t cap_hint, const char *note, size_t nlen) {
  struct pw_sample *x;
  uint32_t rev = 0;
  size_t i;

  if (s->n > 0 && as_of <= s->max_as_of)
    for (i = s->n; i-- > 0;)
      if (s->samples[i].as_of == as_of) {
        if (s->samples[i].value == value)
          return note != NULL ? set_note(&s->samples[i], note, nlen) : 0;
        break;
      }

  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : cap_hint > 8 ? cap_hint : 8;
    struct pw_sample *p = realloc(s->samples, cap * sizeof(*p));
    if (p == NULL)
      return -ENOMEM;
    s->samples = p;
    s->cap = cap;
  }
  /* The revision number counts earlier samples of the same as_of; a sample newer than
   * everything stored is revision 0 without a scan. */
  if (s->n > 0 && as_of <= s->max_as_of)
    for (i = s->n; i-- > 0;)
      if (s->samples[i].as_of == as_of) {
        rev = s->samples[i].rev + 1;
        break;
      }
  x = &s->samples[s->n];
  x->as_of = as_of;
  x->fetched_at = fetched_at;
  x->value = value;
  x->rev = rev;
  x->note = NULL;
  if (note != NULL && set_note(x, note, nlen) < 0)
    return -ENOMEM;
  if (s->n == 0 || as_of >= s->max_as_of) {
    s->max_as_of = as_of;
    s->latest = s->n;
  }
  s->n++;
  return 0;
}

/* A tiny open-addressing index from indicator id to configuration index, so that loading a
 * large journal costs one hash per line rather than a scan of every indicator. */
struct id_index {
  int *slots;
  size_t mask;
};

static uint32_t hash_id(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static int index_build(struct id_index *x, const struct pw_config *conf) {
  size_t size = 16;
  int i;

  while (size < (size_t)conf->n_indicators * 2)
    size *= 2;
  x->slots = malloc(size * sizeof(int));
  if (x->slots == NULL)
    return -ENOMEM;
  x->mask = size - 1;
  for (i = 0; i < (int)size; i++)
    x->slots[i] = -1;
  for (i = 0; i < conf->n_indicators; i++) {
    const char *id = conf->indicators[i].id;
    size_t h = hash_id(id, strlen(id)) & x->mask;
    while (x->slots[h] >= 0)
      h = (h + 1) & x->mask;
    x->slots[h] = i;
  }
  return 0;
}

static int index_find(const struct id_index *x, const struct pw_config *conf, const char *s,
                      size_t n) {
  size_t h = hash_id(s, n) & x->mask;

  while (x->slots[h] >= 0) {
    const char *id = conf->indicators[x->slots[h]].id;
    /* The field may hold NUL bytes: compare lengths first, never past the id's end. */
    if (strnlen(id, n + 1) == n && memcmp(id, s, n) == 0)
      return x->slots[h];
    h = (h + 1) & x->mask;
  }
  return -1;
}

/* Reads the retraction line of fields F (docs/storage.md#retractions) for indicator IND. */
static int parse_retraction(struct pw_journal *j, int ind, int64_t as_of, int64_t at,
                            const char **f, const size_t *flen, int nf) {
  char reason[PW_EXPLANATION_BUF];
  int rl, rc;

  if (nf != 6 || !source_ok(f[4], flen[4]))
    return -EINVAL;
  rl = pw_text_clean(f[5], flen[5], reason, sizeof(reason), PW_EXPLANATION_MAX);
  if (rl <= 0)
    return -EINVAL;
  rc = series_retract(&j->series[ind], as_of, at, f[4], flen[4], reason, (size_t)rl);
  if (rc == -ENOENT) {
    pw_log_warn("%s:%llu: a retraction of a sample the journal does not hold; ignored", j->path,
                (unsigned long long)j->lineno);
    return 1;
  }
  return rc;
}

/* Reads the explanation line of fields F (docs/storage.md#explanations) for indicator IND. */
static int parse_explanation(struct pw_journal *j, int ind, int64_t as_of, int64_t at,
                             const char **f, const size_t *flen, int nf) {
  char reason[PW_EXPLANATION_BUF], measures[PW_EXPLANATION_BUF], source[PW_JOURNAL_SOURCE_MAX + 1];
  struct pw_explanation e;
  int rl, ml;

  if (nf != 8 || !source_ok(f[4], flen[4]) || (flen[7] != 0 && !pw_journal_date_ok(f[7], flen[7])))
    return -EINVAL;
  rl = pw_text_clean(f[5], flen[5], reason, sizeof(reason), PW_EXPLANATION_MAX);
  ml = pw_text_clean(f[6], flen[6], measures, sizeof(measures), PW_EXPLANATION_MAX);
  if (rl < 0 || ml < 0 || (rl == 0 && ml == 0))
    return -EINVAL;
  memcpy(source, f[4], flen[4]);
  source[flen[4]] = '\0';
  memset(&e, 0, sizeof(e));
  e.as_of = as_of;
  e.at = at;
  e.source = source;
  e.reason = reason;
  e.measures = measures;
  memcpy(e.catch_up, f[7], flen[7]);
  e.catch_up[flen[7]] = '\0';
  return series_explain(&j->series[ind], &e);
}

/* Parses one line (without its newline). Returns 0, 1 for a line to ignore (comment, unknown
 * indicator, a retraction of nothing), -ENOMEM, or -EINVAL for a malformed line. */
static int parse_line(struct pw_journal *j, const struct id_index *x, struct stamp_cache *cache,
                      const char *p, size_t len) {
  const char *f[8];
  size_t flen[8];
  int nf = 0, ind, nl = 0, kind = 0, more = 0;
  const char *start = p, *end = p + len;
  int64_t as_of, fetched;
  double value = 0;
  char note[PW_NOTE_BUF];

  if (len == 0 || p[0] == '#')
    return 1;
  while (nf < 8) {
    const char *tab = memchr(start, '\t', (size_t)(end - start));
    f[nf] = start;
    flen[nf] = (size_t)((tab ? tab : end) - start);
    nf++;
    if (tab == NULL)
      break;
    start = tab + 1;
    more = nf == 8; /* a ninth field: no line has one */
  }
  if (nf < 4)
    return -EINVAL;
  /* The value field names the kind of line: a figure, or a retraction or an explanation. */
  if (flen[2] == 9 && memcmp(f[2], "retracted", 9) == 0)
    kind = 1;
  else if (flen[2] == 11 && memcmp(f[2], "explanation", 11) == 0)
    kind = 2;
  if (parse_stamp_cached(&cache[0], f[0], flen[0], &as_of) < 0 ||
      parse_stamp_cached(&cache[1], f[3], flen[3], &fetched) < 0 ||
      (kind == 0 && parse_value(f[2], flen[2], &value) < 0))
    return -EINVAL;
  ind = index_find(x, j->conf, f[1], flen[1]);
  if (ind < 0) {
    j->foreign++;
    return 1;
  }
  if (kind == 1)
    return parse_retraction(j, ind, as_of, fetched, f, flen, nf);
  if (kind == 2)
    return more ? -EINVAL : parse_explanation(j, ind, as_of, fetched, f, flen, nf);
  /* The sixth field, the note, is optional (journals written before notes have five). A note
   * that is not clean text is dropped: the figure is the truth, its note only beside it. */
  if (nf >= 6 && flen[5] > 0)
    nl = pw_note_clean(f[5], flen[5], note, sizeof(note));
  return series_push(&j->series[ind], as_of, value, fetched, j->cap_hint, nl > 0 ? note : NULL,
                     nl > 0 ? (size_t)nl : 0) < 0
             ? -ENOMEM
             : 0;
}

/* ERR: "PATH: WHAT: why", where a stranger at the journal's name (not a regular file) is
 * described as what it is rather than by its errno. */
static void journal_error(const char *path, const char *what, int rc, char *err, size_t errlen) {
  const char *kind = "";

  if (rc != -ENOENT && pw_regular_file(path, &kind) < 0 && kind[0] != '\0' && rc != -EISDIR)
    snprintf(err, errlen, "%s: %s: %s, not a regular file", path, what, kind);
  else
    snprintf(err, errlen, "%s: %s: %s", path, what, strerror(-rc));
}

/* The journal's bytes: mapped (a province's journal is hundreds of megabytes, and a copy
 * would cost as much as the parse), or read when it cannot be mapped. */
static int map_file(const char *path, char **text, size_t *len, int *mapped) {
  struct stat st;
  /* Never waiting on a FIFO nor following a symbolic link planted at the journal's name: the
   * caller refuses to start on anything but a regular file (docs/storage.md). */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW), rc;

  *mapped = 0;
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0)
    rc = -errno;
  else if (!S_ISREG(st.st_mode))
    rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
  else
    rc = 0;
  if (rc < 0) {
    close(fd);
    return rc;
  }
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
      close(fd);
      *text = p;
      *len = (size_t)st.st_size;
      *mapped = 1;
      return 0;
    }
  }
  close(fd);
  rc = pw_read_state_file(path, 0, text, len);
  return rc;
}

static void unmap_file(char *text, size_t len, int mapped) {
  if (mapped)
    munmap(text, len);
  else
    free(text);
}

/* Parses the complete lines of TEXT (LEN bytes of the file from j->loaded_to on) into the series.
 * A last line without its newline is a write cut short by a crash, or one being written right
 * now: skipped, the next line written starts with a newline of its own, and loaded_to stays at
 * its start, so that a catch-up reads it again whole. */
static int parse_text(struct pw_journal *j, const struct id_index *x, const char *text, size_t len,
                      char *err, size_t errlen) {
  struct stamp_cache cache[2];
  size_t off = 0;
  int rc;

  memset(cache, 0, sizeof(cache));
  while (off < len) {
    const char *nl = memchr(text + off, '\n', len - off);
    size_t l = (size_t)((nl ? nl : text + len) - (text + off));
    j->lineno++;
    if (nl == NULL) {
      pw_log_warn("%s:%llu: the last line is incomplete (a write cut short by a crash?); "
                  "skipped",
                  j->path, (unsigned long long)j->lineno);
      j->skipped++;
      j->needs_newline = 1;
      j->tail_torn = 1;
      break;
    }
    rc = parse_line(j, x, cache, text + off, l);
    if (rc == -ENOMEM) {
      snprintf(err, errlen, "%s: out of memory loading the journal", j->path);
      return rc;
    }
    if (rc < 0) {
      pw_log_warn("%s:%llu: malformed journal line skipped", j->path,
                  (unsigned long long)j->lineno);
      j->skipped++;
    } else if (rc == 0) {
      j->lines++;
    }
    off += l + 1;
  }
  j->loaded_to += off;
  return 0;
}

static int load(struct pw_journal *j, char *err, size_t errlen) {
  struct id_index x;
  char *text = NULL;
  size_t len = 0;
  int rc, mapped;

  rc = map_file(j->path, &text, &len, &mapped);
  if (rc == -ENOENT)
    return 0;
  if (rc < 0) {
    journal_error(j->path, "cannot read the journal", rc, err, errlen);
    return rc;
  }
  if (index_build(&x, j->conf) < 0) {
    unmap_file(text, len, mapped);
    return -ENOMEM;
  }
  /* A series' first allocation holds its share of the file (lines are some 70 bytes): a year
   * of daily figures for 10,000 indicators grew each series seven times, and the copies were a
   * tenth of the load. Whatever the spread, the hints add up to about the file's line count. */
  j->cap_hint = j->n_series > 0 ? len / 64 / (size_t)j->n_series : 0;
  rc = parse_text(j, &x, text, len, err, errlen);
  j->cap_hint = 0;
  free(x.slots);
  unmap_file(text, len, mapped);
  return rc;
}

/* Opens the file for appending; a new file starts with the header line. */
static int open_append(struct pw_journal *j, char *err, size_t errlen) {
  struct stat st;
  int rc;

  /* As for reading: no FIFO (O_NONBLOCK makes its open fail at once), no symbolic link. */
  j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644);
  rc = j->fd < 0 ? -errno : 0;
  if (rc == 0 && (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)))
    rc = -EINVAL;
  if (rc < 0) {
    journal_error(j->path, "cannot open the journal for writing", rc, err, errlen);
    if (j->fd >= 0)
      close(j->fd);
    j->fd = -1;
    return rc;
  }
  if (lseek(j->fd, 0, SEEK_END) == 0 &&
      pw_buf_append(&j->pending, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) < 0) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

/* Reads the file from OFF to its end into *TEXT (owned; *LEN bytes). */
static int read_tail(const char *path, uint64_t off, char **text, size_t *len) {
  struct stat st;
  size_t got = 0, size;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW), rc = 0;

  *text = NULL;
  *len = 0;
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) != 0)
    rc = -errno;
  else if (!S_ISREG(st.st_mode))
    rc = -EINVAL;
  if (rc < 0) {
    close(fd);
    return rc;
  }
  if ((uint64_t)st.st_size < off) {
    close(fd);
    return -ESPIPE; /* shorter than what was read: not the same file any more */
  }
  size = (size_t)((uint64_t)st.st_size - off);
  *text = malloc(size + 1);
  if (*text == NULL) {
    close(fd);
    return -ENOMEM;
  }
  while (got < size) {
    ssize_t n = pread(fd, *text + got, size - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : 0;
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  if (rc < 0) {
    free(*text);
    *text = NULL;
    return rc;
  }
  *len = got;
  return 0;
}

int pw_journal_catch_up(struct pw_journal *j, int writable, char *err, size_t errlen) {
  struct id_index x;
  char *text = NULL;
  size_t len = 0;
  int rc = read_tail(j->path, j->loaded_to, &text, &len);

  if (rc == -ENOENT && j->loaded_to == 0)
    rc = 0;
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot read the journal's new lines: %s", j->path,
             rc == -ESPIPE ? "the file is shorter than when it was loaded" : strerror(-rc));
    return rc;
  }
  if (j->tail_torn) {
    /* The load ended in an incomplete line, which the tail holds again: it is judged anew
     * (completed since, or closed by the running journal's newline, or still torn). */
    j->tail_torn = 0;
    j->needs_newline = 0;
    j->skipped--;
    j->lineno--;
  }
  if (len > 0) {
    if (index_build(&x, j->conf) < 0) {
      free(text);
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
    rc = parse_text(j, &x, text, len, err, errlen);
    free(x.slots);
  }
  free(text);
  if (rc == 0 && writable && j->fd < 0)
    rc = open_append(j, err, errlen);
  return rc;
}

int pw_journal_open(const struct pw_config *conf, int writable, struct pw_journal **out, char *err,
                    size_t errlen) {
  struct pw_journal *j;
  char *dir;
  int rc;

  *out = NULL;
  j = calloc(1, sizeof(*j));
  if (j == NULL)
    return -ENOMEM;
  j->fd = -1;
  j->conf = conf;
  j->n_series = conf->n_indicators;
  j->series = calloc((size_t)conf->n_indicators + 1, sizeof(*j->series));
  dir = pw_path_join(conf->daemon.state_dir, "journal");
  j->path = dir ? pw_path_join(dir, "journal.tsv") : NULL;
  if (j->series == NULL || j->path == NULL) {
    free(dir);
    pw_journal_close(j);
    return -ENOMEM;
  }
  if (writable) {
    rc = pw_mkdir_p(dir);
    if (rc < 0) {
      snprintf(err, errlen, "%s: cannot create the journal directory: %s", dir, strerror(-rc));
      free(dir);
      pw_journal_close(j);
      return rc;
    }
  }
  free(dir);
  rc = load(j, err, errlen);
  if (rc < 0) {
    pw_journal_close(j);
    return rc;
  }
  if (writable) {
    rc = open_append(j, err, errlen);
    if (rc < 0) {
      pw_journal_close(j);
      return rc;
    }
  }
  *out = j;
  return 0;
}

/* The sample a candidate stamped with the fetch time AT is confirmed against: the one effective
 * at AT (known then, and the newest known revision of the latest as_of not after AT), or NULL
 * when nothing was known then. That is the series' latest sample, unless the clock went back:
 * a journal written under a later clock holds samples "of the future", which were not known at
 * AT and must not be what a figure of AT is compared with (docs/values.md). Then one pass over
 * the series finds it. */
static const struct pw_sample *effective_at(const struct pw_series *s, int64_t at) {
  const struct pw_sample *last = &s->samples[s->latest], *best = NULL;
  size_t i;

  if (last->as_of <= at && (last->rev == 0 || last->fetched_at <= at))
    return last;
  for (i = 0; i < s->n; i++) {
    const struct pw_sample *x = &s->samples[i];
    /* Judged on the samples up to I, "effective" is "known at AT" (judge's rule); among those
     * of one as_of the last journaled wins. */
    if (x->as_of > at || (best != NULL && x->as_of < best->as_of) ||
        !pw_judge_effective(s->samples, i + 1, i, at))
      continue;
    best = x;
  }
  return best;
}

const struct pw_sample *pw_journal_find(const struct pw_journal *j, int ind, int64_t as_of) {
  const struct pw_series *s = &j->series[ind];
  size_t i;

  if (s->n == 0 || as_of > s->max_as_of)
    return NULL;
  for (i = s->n; i-- > 0;)
    if (s->samples[i].as_of == as_of)
      return &s->samples[i];
  return NULL;
}

const struct pw_sample *pw_journal_effective(const struct pw_journal *j, int ind, int64_t at) {
  const struct pw_series *s = &j->series[ind];

  return s->n > 0 ? effective_at(s, at) : NULL;
}

/* Whether a sample of a later as_of than AT was known at AT (judge's rule: a first value from
 * the earlier of its as_of and its fetch, a revision from its fetch; with an as_of after AT both
 * come to fetched_at <= AT). Without one, every sample after AT was journaled under a clock
 * set later than AT: it is "of the future", not a figure that AT's came after. */
static int known_later(const struct pw_series *s, int64_t at) {
  size_t i;

  for (i = 0; i < s->n; i++)
    if (s->samples[i].as_of > at && s->samples[i].fetched_at <= at)
      return 1;
  return 0;
}

enum pw_sample_class pw_journal_classify(const struct pw_journal *j, int ind, int64_t as_of,
                                         double value, int own_as_of) {
  const struct pw_series *s = &j->series[ind];
  size_t i;

  if (s->n == 0)
    return PW_SAMPLE_NEW;
  if (as_of <= s->max_as_of)
    for (i = s->n; i-- > 0;)
      if (s->samples[i].as_of == as_of)
        return s->samples[i].value == value ? PW_SAMPLE_DUPLICATE : PW_SAMPLE_REVISION;
  if (!own_as_of) {
    const struct pw_sample *last = effective_at(s, as_of);
    if (last != NULL && last->value == value && as_of - last->as_of < 86400)
      return PW_SAMPLE_UNCHANGED;
    /* Stamped with the fetch time, it is the newest figure known then unless a later one was
     * known: samples after it that nobody knew at its time were written under a clock set
     * ahead, and it revises nothing (docs/values.md#when-the-clock-went-back). */
    if (as_of < s->max_as_of && !known_later(s, as_of))
      return PW_SAMPLE_NEW;
  }
  return as_of > s->max_as_of ? PW_SAMPLE_NEW : PW_SAMPLE_REVISION;
}

/* Starts a line in J's pending buffer on a line of its own. Returns 0 or -ENOMEM. */
static int pending_line_start(struct pw_journal *j) {
  if (j->needs_newline) {
    if (pw_buf_append(&j->pending, "\n", 1) < 0)
      return -ENOMEM;
    j->needs_newline = 0;
  }
  return 0;
}

int pw_journal_add(struct pw_journal *j, int ind, int64_t as_of, double value, int64_t fetched_at,
                   const char *source) {
  return pw_journal_add_noted(j, ind, as_of, value, fetched_at, source, NULL);
}

int pw_journal_add_noted(struct pw_journal *j, int ind, int64_t as_of, double value,
                         int64_t fetched_at, const char *source, const char *note) {
  char a[40], f[40], v[40], clean[PW_NOTE_BUF];
  int rc, nl = 0;

  /* The note is cleaned again here: whoever called, the line keeps its six fields. */
  if (note != NULL)
    nl = pw_note_clean(note, strlen(note), clean, sizeof(clean));
  if (nl < 0)
    return nl;

  /* A torn last line is closed first, so the new one starts on a line of its own. */
  if (pending_line_start(j) < 0)
    return -ENOMEM;
  rc = pw_buf_printf(&j->pending, "%s\t%s\t%s\t%s\t%s%s%s\n",
                     pw_calendar_format(as_of, a, sizeof(a)), j->conf->indicators[ind].id,
                     pw_value_format(value, v, sizeof(v)),
                     pw_calendar_format(fetched_at, f, sizeof(f)), source, nl > 0 ? "\t" : "",
                     nl > 0 ? clean : "");
  if (rc < 0)
    return rc;
  j->lines++;
  return series_push(&j->series[ind], as_of, value, fetched_at, 0, nl > 0 ? clean : NULL,
                     (size_t)nl);
}

/* Checks SOURCE and AT, the fields every retraction and explanation carries. */
static int check_who(const char *source, int64_t at, char *err, size_t errlen) {
  if (source == NULL || !source_ok(source, strlen(source))) {
    snprintf(err, errlen, "the source must be 1 to %d bytes of text without control characters",
             PW_JOURNAL_SOURCE_MAX);
    return -EINVAL;
  }
  if (!pw_journal_time_ok(at)) {
    snprintf(err, errlen, "the time is outside the years " PW_JOURNAL_YEARS);
    return -ERANGE;
  }
  return 0;
}

/* Cleans TEXT (NULL: empty) for FIELD into OUT (PW_EXPLANATION_BUF bytes). Returns its length or
 * a negative errno with a message. */
static int clean_text(const char *field, const char *text, char *out, char *err, size_t errlen) {
  int n = pw_text_clean(text ? text : "", text ? strlen(text) : 0, out, PW_EXPLANATION_BUF,
                        PW_EXPLANATION_MAX);

  if (n == -EILSEQ)
    snprintf(err, errlen, "the %s is not valid UTF-8", field);
  else if (n == -E2BIG)
    snprintf(err, errlen, "the %s is longer than %d characters", field, PW_EXPLANATION_MAX);
  else if (n < 0)
    snprintf(err, errlen, "the %s cannot be read: %s", field, strerror(-n));
  return n;
}

int pw_journal_retract(struct pw_journal *j, int ind, int64_t as_of, int64_t at, const char *source,
                       const char *reason, char *err, size_t errlen) {
  char reason_c[PW_EXPLANATION_BUF], a[40], t[40];
  size_t mark;
  int rl, rc, torn;

  rc = check_who(source, at, err, errlen);
  if (rc < 0)
    return rc;
  rl = clean_text("reason", reason, reason_c, err, errlen);
  if (rl < 0)
    return rl;
  if (rl == 0) {
    snprintf(err, errlen, "a retraction needs a reason");
    return -EINVAL;
  }
  if (pw_journal_find(j, ind, as_of) == NULL) {
    snprintf(err, errlen, "indicator '%s' has no sample of %s", j->conf->indicators[ind].id,
             pw_calendar_format(as_of, a, sizeof(a)));
    return -ENOENT;
  }
  mark = j->pending.len;
  torn = j->needs_newline;
  if (pending_line_start(j) < 0 ||
      pw_buf_printf(&j->pending, "%s\t%s\tretracted\t%s\t%s\t%s\n",
                    pw_calendar_format(as_of, a, sizeof(a)), j->conf->indicators[ind].id,
                    pw_calendar_format(at, t, sizeof(t)), source, reason_c) < 0) {
    j->pending.len = mark;
    j->needs_newline = torn;
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  rc = series_retract(&j->series[ind], as_of, at, source, strlen(source), reason_c, (size_t)rl);
  if (rc < 0) {
    j->pending.len = mark;
    j->needs_newline = torn;
    snprintf(err, errlen, "out of memory");
    return rc;
  }
  j->lines++;
  return 0;
}

int pw_journal_explain(struct pw_journal *j, int ind, int64_t as_of, int64_t at, const char *source,
                       const char *reason, const char *measures, const char *catch_up, char *err,
                       size_t errlen) {
  char reason_c[PW_EXPLANATION_BUF], measures_c[PW_EXPLANATION_BUF], a[40], t[40];
  const struct pw_series *s = &j->series[ind];
  struct pw_explanation e;
  size_t mark;
  int rl, ml, rc, torn;

  rc = check_who(source, at, err, errlen);
  if (rc < 0)
    return rc;
  rl = clean_text("reason", reason, reason_c, err, errlen);
  if (rl < 0)
    return rl;
  ml = clean_text("measures", measures, measures_c, err, errlen);
  if (ml < 0)
    return ml;
  if (rl == 0 && ml == 0) {
    snprintf(err, errlen, "an explanation needs a reason or measures");
    return -EINVAL;
  }
  if (catch_up == NULL)
    catch_up = "";
  if (catch_up[0] != '\0' && !pw_journal_date_ok(catch_up, strlen(catch_up))) {
    snprintf(err, errlen, "the catch-up date must be a date YYYY-MM-DD in the years 1971 to 2100");
    return -EINVAL;
  }
  if (as_of == PW_JOURNAL_AS_OF_LATEST)
    as_of = s->n > 0 ? s->max_as_of : at;
  if (!pw_journal_time_ok(as_of)) {
    snprintf(err, errlen, "the as_of is outside the years " PW_JOURNAL_YEARS);
    return -ERANGE;
  }
  memset(&e, 0, sizeof(e));
  e.as_of = as_of;
  e.at = at;
  e.source = source;
  e.reason = reason_c;
  e.measures = measures_c;
  snprintf(e.catch_up, sizeof(e.catch_up), "%s", catch_up);
  mark = j->pending.len;
  torn = j->needs_newline;
  if (pending_line_start(j) < 0 ||
      pw_buf_printf(&j->pending, "%s\t%s\texplanation\t%s\t%s\t%s\t%s\t%s\n",
                    pw_calendar_format(as_of, a, sizeof(a)), j->conf->indicators[ind].id,
                    pw_calendar_format(at, t, sizeof(t)), source, reason_c, measures_c,
                    catch_up) < 0 ||
      series_explain(&j->series[ind], &e) < 0) {
    j->pending.len = mark;
    j->needs_newline = torn;
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  j->lines++;
  return 0;
}

const struct pw_explanation *pw_journal_explanation(const struct pw_journal *j, int ind) {
  const struct pw_series *s = &j->series[ind];

  return s->n_explanations > 0 ? &s->explanations[s->n_explanations - 1] : NULL;
}

int pw_journal_withdrawn(const struct pw_journal *j, int ind, int64_t as_of) {
  const struct pw_series *s = &j->series[ind];
  size_t i;

  for (i = 0; i < s->n_retracted; i++)
    if (s->retracted[i].sample.as_of == as_of)
      return 1;
  return 0;
}

int pw_journal_append(int fd, const char *data, size_t len, size_t *kept) {
  off_t start = lseek(fd, 0, SEEK_END);
  size_t done = 0;
  int rc = 0;

  *kept = 0;
  if (start < 0)
    return -errno;
  rc = pw_write_all(fd, data, len, &done);
  if (rc == 0 && len > 0 && fsync(fd) != 0)
    rc = -errno;
  if (rc == 0 || done == 0)
    return rc;
  /* Part of DATA reached the file (a full disk cuts a write short): cut it off, or a retry of
   * the same lines would glue its first line to the fragment and write the others twice. */
  while (ftruncate(fd, start) != 0) {
    if (errno != EINTR) {
      *kept = done; /* still there: a retry resumes after it */
      return rc;
    }
  }
  return rc;
}

int pw_journal_commit(struct pw_journal *j) {
  size_t kept = 0;
  int rc;

  if (j->fd < 0)
    return -EBADF;
  rc = pw_journal_append(j->fd, j->pending.data, j->pending.len, &kept);
  if (rc == 0) {
    j->pending.len = 0;
  } else if (kept > 0) {
    memmove(j->pending.data, j->pending.data + kept, j->pending.len - kept);
    j->pending.len -= kept;
  }
  return rc;
}

/* Copies S's withdrawn revisions and explanations into D (which has none). Returns 0 or -ENOMEM
 * (what was copied is D's, freed with it). */
static int copy_parts(struct pw_series *d, const struct pw_series *s) {
  size_t k;

  if (s->n_retracted > 0) {
    d->retracted = calloc(s->n_retracted, sizeof(*d->retracted));
    if (d->retracted == NULL)
      return -ENOMEM;
    for (k = 0; k < s->n_retracted; k++) {
      const struct pw_retraction *r = &s->retracted[k];
      struct pw_retraction *o = &d->retracted[k];
      *o = *r;
      o->sample.note = r->sample.note ? strdup(r->sample.note) : NULL;
      o->source = strdup(r->source);
      o->reason = strdup(r->reason);
      d->n_retracted++;
      if ((r->sample.note && !o->sample.note) || !o->source || !o->reason)
        return -ENOMEM;
    }
  }
  for (k = 0; k < s->n_explanations; k++)
    if (series_explain(d, &s->explanations[k]) < 0)
      return -ENOMEM;
  return 0;
}

struct pw_journal *pw_journal_snapshot(const struct pw_journal *j) {
  struct pw_journal *c = calloc(1, sizeof(*c));
  int i;

  if (c == NULL)
    return NULL;
  c->fd = -1;
  c->conf = j->conf;
  c->n_series = j->n_series;
  c->lines = j->lines;
  c->path = strdup(j->path);
  c->series = calloc((size_t)j->n_series + 1, sizeof(*c->series));
  if (c->path == NULL || c->series == NULL) {
    pw_journal_close(c);
    return NULL;
  }
  for (i = 0; i < j->n_series; i++) {
    const struct pw_series *s = &j->series[i];
    struct pw_series *d = &c->series[i];
    *d = *s;
    d->samples = NULL;
    d->cap = s->n;
    d->retracted = NULL;
    d->n_retracted = 0;
    d->explanations = NULL;
    d->n_explanations = 0;
    if (s->n == 0)
      continue;
    d->samples = malloc(s->n * sizeof(*d->samples));
    if (d->samples == NULL) {
      d->n = 0;
      pw_journal_close(c);
      return NULL;
    }
    memcpy(d->samples, s->samples, s->n * sizeof(*d->samples));
    /* The notes are copied too: the loop may replace (and free) a note of J meanwhile. */
    for (size_t k = 0; k < s->n; k++) {
      const char *note = s->samples[k].note;
      d->samples[k].note = NULL;
      if (note != NULL && set_note(&d->samples[k], note, strlen(note)) < 0) {
        d->n = k;
        pw_journal_close(c);
        return NULL;
      }
    }
  }
  /* Withdrawn revisions and explanations too, as the loop's next retraction moves them. */
  for (i = 0; i < j->n_series; i++)
    if (copy_parts(&c->series[i], &j->series[i]) < 0) {
      pw_journal_close(c);
      return NULL;
    }
  return c;
}

void pw_journal_close(struct pw_journal *j) {
  int i;

  if (j == NULL)
    return;
  if (j->fd >= 0)
    close(j->fd);
  for (i = 0; j->series && i < j->n_series; i++) {
    series_free_parts(&j->series[i]);
    free(j->series[i].samples);
  }
  free(j->series);
  pw_buf_free(&j->pending);
  free(j->path);
  free(j);
}

int pw_state_lock(const char *state_dir) {
  char *path;
  int fd, rc;

  rc = pw_mkdir_p(state_dir);
  if (rc < 0)
    return rc;
  path = pw_path_join(state_dir, "lock");
  if (path == NULL)
    return -ENOMEM;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  free(path);
  if (fd < 0)
    return -errno;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
    close(fd);
    return rc;
  }
  return fd;
}

int pw_sample_value_parse(const struct pw_indicator *ind, const char *text, double *out) {
  int i, rc;

  if (ind->kind == PW_KIND_MILESTONE) {
    const char *p = text;
    size_t n;
    while (*p == ' ' || *p == '\t')
      p++;
    n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
      n--;
    /* Stage names are matched before any attempt to read a number. */
    for (i = 0; i < ind->stages.n; i++)
      if (strlen(ind->stages.items[i]) == n && strncmp(ind->stages.items[i], p, n) == 0) {
        *out = i;
        return 0;
      }
    rc = pw_value_parse(text, out);
    if (rc != 0)
      return rc;
    if (*out != floor(*out) || *out < 0 || *out >= ind->stages.n)
      return -EINVAL;
    return 0;
  }
  return pw_value_parse(text, out);
}
