/*
 * report (pacewatchd): the daemon's side of the department reporting page (docs/http.md
 * "Reporting page"). It keeps the reporting tokens (serve/tokens.h), read at start and re-read
 * from state_dir/tokens.json every few seconds on the thread pool, and stores a figure the page
 * sends: read and checked by the rules of admission (a refusal is answered at once, in Chinese,
 * naming the field), admitted like an inbox row (source "report:<department>"), made durable
 * through persist, appended to audit.log (docs/storage.md, event "report"), and only then
 * answered with 已保存 and the indicator's new judgement. An explanation (原因, 措施, 预计追平日期)
 * takes the same way as a journal explanation line (source "report:<department>", audit event
 * "explain"), answered with 已保存 and the explanation in the shared wording.
 */
#define PW_LOG_MODULE "report"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "calendar.h"
#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "report_page.h"
#include "tokens.h"
#include "value.h"

/* tokens.json is re-read this often (real time): a revoked token stops working within it. */
#define TOKENS_EVERY_MS 5000

struct daemon_report {
  struct pw_daemon *d;
  struct pw_tokens tokens; /* as last read; empty when the file was refused */
  int reading;
  int loaded; /* read once: a change is logged from then on */
  int64_t last_read_ms;
  char last_error[600]; /* the refusal last logged: each is logged once */
};

struct tokens_read {
  uv_work_t work;
  struct daemon_report *r;
  char state_dir[4096];
  struct pw_tokens tokens;
  char msg[600];
  int rc;
};

/* Whether A and B hold the same tokens (by id: an id is never reused for another token). */
static int same_tokens(const struct pw_tokens *a, const struct pw_tokens *b) {
  size_t i;

  if (a->n != b->n)
    return 0;
  for (i = 0; i < a->n; i++)
    if (strcmp(a->v[i].id, b->v[i].id) != 0)
      return 0;
  return 1;
}

/* A refusal of tokens.json is logged when it is new (not every five seconds), and so is a
 * change of the tokens (their number only: ids and departments are for `pacewatch token
 * list`). */
static void tokens_apply(struct daemon_report *r, int rc, struct pw_tokens *t, const char *msg) {
  if (rc < 0) {
    if (strcmp(r->last_error, msg) != 0)
      pw_log_error("%s: no reporting token is valid until it is mended", msg);
    pw_strlcpy(r->last_error, msg, sizeof(r->last_error));
    pw_tokens_free(&r->tokens);
    return;
  }
  if (r->last_error[0] != '\0')
    pw_log_info("tokens.json is readable again: %zu reporting tokens", t->n);
  else if (r->loaded && !same_tokens(&r->tokens, t))
    pw_log_info("tokens.json changed: %zu reporting tokens", t->n);
  r->loaded = 1;
  r->last_error[0] = '\0';
  pw_tokens_free(&r->tokens);
  r->tokens = *t;
  memset(t, 0, sizeof(*t));
}

static void tokens_work(uv_work_t *w) {
  struct tokens_read *tr = w->data;

  tr->rc = pw_tokens_read(tr->state_dir, &tr->tokens, tr->msg, sizeof(tr->msg));
}

static void tokens_done(uv_work_t *w, int status) {
  struct tokens_read *tr = w->data;

  tr->r->reading = 0;
  if (status == 0)
    tokens_apply(tr->r, tr->rc, &tr->tokens, tr->msg);
  pw_tokens_free(&tr->tokens);
  free(tr);
}

int daemon_report_init(struct pw_daemon *d) {
  struct daemon_report *r = calloc(1, sizeof(*r));
  struct pw_tokens t;
  char msg[600];
  int rc;

  if (r == NULL)
    return -ENOMEM;
  r->d = d;
  /* At start the loop does not run yet: the first reading is done here, so a link works as
   * soon as the start line is logged. */
  rc = pw_tokens_read(d->conf->daemon.state_dir, &t, msg, sizeof(msg));
  tokens_apply(r, rc, &t, msg);
  pw_tokens_free(&t);
  r->last_read_ms = pw_clock_real_ms();
  d->report = r;
  return 0;
}

void daemon_report_tick(struct pw_daemon *d) {
  struct daemon_report *r = d->report;
  struct tokens_read *tr;
  int64_t now = pw_clock_real_ms();

  if (r == NULL || r->reading || now - r->last_read_ms < TOKENS_EVERY_MS)
    return;
  tr = calloc(1, sizeof(*tr));
  if (tr == NULL)
    return;
  r->last_read_ms = now;
  tr->r = r;
  pw_strlcpy(tr->state_dir, d->conf->daemon.state_dir, sizeof(tr->state_dir));
  tr->work.data = tr;
  if (uv_queue_work(d->loop, &tr->work, tokens_work, tokens_done) != 0) {
    free(tr);
    return;
  }
  r->reading = 1;
}

void daemon_report_free(struct pw_daemon *d) {
  if (d->report == NULL)
    return;
  pw_tokens_free(&d->report->tokens);
  free(d->report);
  d->report = NULL;
}

const struct pw_tokens *daemon_report_tokens(void *ctx) {
  struct pw_daemon *d = ctx;

  return d->report != NULL ? &d->report->tokens : NULL;
}

/* ---- a submission ---- */

struct submission {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_http_submit *ticket;
  char indicator[80];
  int explain; /* an explanation (answered with its words), not a figure */
  char *audit_path;
  int64_t audit_max; /* daemon.audit_max_bytes when it was sent */
  char *line;        /* the audit line */
  int rc;
};

void daemon_report_answer(struct pw_http_submit *ticket, int status, const char *field,
                          const char *msg) {
  json_t *doc = field != NULL ? json_pack("{s:s,s:s}", "field", field, "message", msg)
                              : json_pack("{s:s}", "message", msg);
  char *text = doc != NULL ? pw_json_dumps(doc, JSON_COMPACT) : NULL;

  pw_http_submit_done(ticket, text != NULL ? status : 503,
                      text != NULL ? text : "{\"message\":\"out of memory\"}");
  free(text);
  json_decref(doc);
}

void daemon_report_send(struct pw_http_submit *ticket, json_t *doc, int status,
                        const char *fallback) {
  char *json = doc != NULL ? pw_json_dumps(doc, JSON_COMPACT) : NULL;

  if (json != NULL)
    pw_http_submit_done(ticket, 200, json);
  else
    daemon_report_answer(ticket, status, NULL, fallback);
  free(json);
  json_decref(doc);
}

static void audit_work(uv_work_t *w) {
  struct submission *s = w->data;

  s->rc = s->audit_path != NULL && s->line != NULL && s->line[0] != '\0'
              ? pw_audit_append(s->audit_path, s->line, strlen(s->line), s->audit_max)
              : 0;
}

static void submission_free(struct submission *s) {
  free(s->audit_path);
  free(s->line);
  free(s);
}

/* The figure is durable and audited: the answer is the indicator's judgement now (by name: a
 * reload may have come meanwhile). */
static void audit_done(uv_work_t *w, int status) {
  struct submission *s = w->data;
  struct pw_daemon *d = s->d;
  struct pw_buf text = {0};
  int ind = pw_config_indicator_index(d->conf, s->indicator);
  json_t *doc;

  if (status != 0 || s->rc < 0)
    pw_log_error("%s: cannot append the submission of %s: %s", s->audit_path, s->indicator,
                 status != 0 ? uv_strerror(status) : strerror(-s->rc));
  if (ind < 0 || d->verdicts == NULL ||
      (s->explain ? pw_report_page_explained(&text, d->conf, ind, &d->verdicts[ind],
                                             &d->journal->series[ind], pw_clock_now())
                  : pw_report_page_saved(&text, d->conf, ind, &d->verdicts[ind],
                                         &d->journal->series[ind], pw_clock_now())) < 0) {
    daemon_report_answer(s->ticket, 200, NULL, "已保存。");
  } else {
    doc = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "message", text.data, "indicator", s->indicator,
                    "status", pw_status_name(d->verdicts[ind].status));
    daemon_report_send(s->ticket, doc, 200, "已保存。");
  }
  pw_buf_free(&text);
  submission_free(s);
}

static void synced(int rc, void *data) {
  struct submission *s = data;

  if (rc < 0) {
    daemon_report_answer(s->ticket, 500, NULL, "保存失败：系统暂时无法写入，请稍后重试。");
    submission_free(s);
    return;
  }
  if (uv_queue_work(s->d->loop, &s->work, audit_work, audit_done) != 0) {
    s->rc = -EAGAIN;
    audit_done(&s->work, 0);
  }
}

/* The refusal of admission's rule RC, in Chinese, and the field it concerns. */
static const char *check_words(int rc, const struct pw_indicator *in, const char **field) {
  *field = "value";
  switch (rc) {
  case -EINVAL:
    return in->kind == PW_KIND_MILESTONE ? "不是该项工作的进展阶段，请从列表中选择。"
                                         : "数值无法识别。";
  case -EDOM:
    return "数值超出可以记录的范围。";
  case -EOVERFLOW:
    *field = "as_of";
    return "截至日期超出可以记录的年份（1971年至2100年）。";
  case -ERANGE:
    *field = "as_of";
    return "截至日期不能晚于今天。";
  default:
    *field = NULL;
    return "保存失败，请稍后重试。";
  }
}

/* The audit line of LINE (a JSON object; its reference is taken) with its newline, owned; NULL
 * when out of memory. */
static char *audit_text(json_t *line) {
  char *text = line != NULL ? pw_json_dumps(line, JSON_COMPACT) : NULL;
  struct pw_buf b = {0};

  json_decref(line);
  if (text != NULL && pw_buf_printf(&b, "%s\n", text) < 0)
    pw_buf_free(&b);
  free(text);
  return b.data;
}

/* The newest stored value of (IND, AS_OF), for the audit line's "old". */
static int stored_value(const struct pw_series *s, int64_t as_of, double *out) {
  size_t k;
  int found = 0;

  for (k = 0; k < s->n; k++)
    if (s->samples[k].as_of == as_of) {
      *out = s->samples[k].value;
      found = 1;
    }
  return found;
}

/* The index of INDICATOR when it is DEPARTMENT's in the current generation and the daemon is
 * not stopping; -1 otherwise (a reload or a stop came between the request and now). */
static int own_indicator(const struct pw_daemon *d, const char *department, const char *indicator) {
  int ind = pw_config_indicator_index(d->conf, indicator);

  if (d->stopping || ind < 0 || d->conf->indicators[ind].department < 0 ||
      strcmp(d->conf->departments[d->conf->indicators[ind].department].id, department) != 0)
    return -1;
  return ind;
}

void daemon_report_submit(void *ctx, const struct pw_report_submission *sub,
                          struct pw_http_submit *ticket) {
  struct pw_daemon *d = ctx;
  const struct pw_indicator *in;
  struct pw_admit_sample s;
  struct pw_admit_stats st;
  struct submission *job;
  char note[PW_NOTE_BUF], source[96], why[160];
  const char *field;
  double value, old = 0;
  int64_t as_of, now = pw_clock_now();
  int ind, nl, has_old, rc;
  json_t *line;

  ind = own_indicator(d, sub->department, sub->indicator);
  if (ind < 0) {
    daemon_report_answer(ticket, 503, NULL, "系统正在更新配置或停止运行，请稍后再试。");
    return;
  }
  in = &d->conf->indicators[ind];
  rc = sub->value[strspn(sub->value, " \t")] == '\0' ? PW_ADMIT_NOT_PUBLISHED
                                                     : pw_admit_text(in, sub->value, &value);
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    daemon_report_answer(ticket, 422, "value",
                         in->kind == PW_KIND_MILESTONE
                             ? "请选择目前的进展阶段。"
                             : "请填写数值（尚未统计出来的，可暂不报送）。");
    return;
  }
  if (rc < 0) {
    daemon_report_answer(ticket, 422, "value",
                         in->kind == PW_KIND_MILESTONE
                             ? "不是该项工作的进展阶段，请从列表中选择。"
                             : "数值无法识别，请填写数字，如“1200”“1.2万”“85%”。");
    return;
  }
  if (sub->as_of[strspn(sub->as_of, " \t")] == '\0') {
    daemon_report_answer(ticket, 422, "as_of", "请填写截至日期。");
    return;
  }
  if (pw_date_parse(sub->as_of, &as_of) < 0) {
    daemon_report_answer(ticket, 422, "as_of",
                         "日期无法识别，请按“2024-03-31”或“2024年3月31日”填写。");
    return;
  }
  nl = pw_note_clean(sub->note, strlen(sub->note), note, sizeof(note));
  if (nl < 0) {
    daemon_report_answer(ticket, 422, "note",
                         nl == -E2BIG ? "备注不能超过200字。"
                                      : "备注含有无法识别的字符，请重新填写。");
    return;
  }
  snprintf(source, sizeof(source), "report:%s", sub->department);
  memset(&s, 0, sizeof(s));
  s.ind = ind;
  s.as_of = as_of;
  s.own_as_of = 1;
  s.value = value;
  s.fetched_at = now;
  s.source = source;
  s.note = nl > 0 ? note : NULL;
  rc = pw_admit_check(in, &s, why, sizeof(why));
  if (rc < 0) {
    const char *msg = check_words(rc, in, &field);
    daemon_report_answer(ticket, field != NULL ? 422 : 500, field, msg);
    return;
  }
  has_old = stored_value(&d->journal->series[ind], as_of, &old);
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    daemon_report_answer(ticket, 503, NULL, "系统繁忙，请稍后重试。");
    return;
  }
  memset(&st, 0, sizeof(st));
  rc = pw_admit_sample(&d->admit, &s, &st);
  if (rc < 0) {
    const char *msg = check_words(rc, in, &field);
    free(job);
    daemon_report_answer(ticket, field != NULL ? 422 : 503, field, msg);
    return;
  }
  job->d = d;
  job->ticket = ticket;
  job->work.data = job;
  pw_strlcpy(job->indicator, in->id, sizeof(job->indicator));
  job->audit_path = pw_path_join(d->conf->daemon.state_dir, "audit.log");
  job->audit_max = d->conf->daemon.audit_max_bytes;
  /* The audit line: who sent what, from where, and what it replaced (docs/storage.md). */
  line = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:f,s:s?,s:s}", "at", (json_int_t)now, "event",
                   "report", "department", sub->department, "address", sub->address, "token",
                   sub->token != NULL ? sub->token : "", "indicator", in->id, "as_of",
                   (json_int_t)as_of, "old", has_old ? json_real(old) : json_null(), "new", value,
                   "note", nl > 0 ? note : NULL, "class",
                   rc == PW_SAMPLE_NEW         ? "new"
                   : rc == PW_SAMPLE_REVISION  ? "revision"
                   : rc == PW_SAMPLE_DUPLICATE ? "duplicate"
                                               : "unchanged");
  job->line = audit_text(line);
  if (job->line == NULL) {
    /* The figure is admitted all the same: it is made durable, its audit line is lost. */
    pw_log_error("out of memory: the audit line of a submission of %s is lost", in->id);
    job->line = strdup("");
  }
  /* Answered once the journal is fsync'd (persist's kick calls back when everything pending now
   * is durable). */
  pw_persist_kick(d->persist, synced, job);
}

/* ---- an explanation ---- */

/* Cleans TEXT for FIELD (原因 or 措施) into OUT (PW_EXPLANATION_BUF bytes). Returns its length,
 * or -1 after answering TICKET with the field's fault. */
static int explain_text(struct pw_http_submit *ticket, const char *field, const char *label,
                        const char *text, char *out) {
  char msg[120];
  int n = pw_text_clean(text, strlen(text), out, PW_EXPLANATION_BUF, PW_EXPLANATION_MAX);

  if (n >= 0)
    return n;
  if (n == -E2BIG)
    snprintf(msg, sizeof(msg), "%s不能超过%d字。", label, PW_EXPLANATION_MAX);
  else
    snprintf(msg, sizeof(msg), "%s含有无法识别的字符，请重新填写。", label);
  daemon_report_answer(ticket, 422, field, msg);
  return -1;
}

void daemon_report_explain(void *ctx, const struct pw_report_explanation *sub,
                           struct pw_http_submit *ticket) {
  struct pw_daemon *d = ctx;
  char reason[PW_EXPLANATION_BUF], measures[PW_EXPLANATION_BUF], source[96], day[16], err[200];
  int64_t catch_up = 0, as_of, now = pw_clock_now();
  struct submission *job;
  int ind, rc;
  json_t *line;

  ind = own_indicator(d, sub->department, sub->indicator);
  if (ind < 0) {
    daemon_report_answer(ticket, 503, NULL, "系统正在更新配置或停止运行，请稍后再试。");
    return;
  }
  if (explain_text(ticket, "reason", "原因", sub->reason, reason) < 0 ||
      explain_text(ticket, "measures", "措施", sub->measures, measures) < 0)
    return;
  if (reason[0] == '\0') {
    daemon_report_answer(ticket, 422, "reason", "请填写原因。");
    return;
  }
  /* The catch-up date: any date form of docs/values.md, a day (a month means its last day), not
   * before today, in the years the journal records. */
  day[0] = '\0';
  if (sub->catch_up[strspn(sub->catch_up, " \t")] != '\0') {
    time_t t;
    struct tm tm;
    int64_t today_end;
    if (pw_date_parse(sub->catch_up, &catch_up) < 0) {
      daemon_report_answer(ticket, 422, "catch_up",
                           "日期无法识别，请按“2024-05-31”或“2024年5月31日”填写。");
      return;
    }
    t = (time_t)(catch_up - 1);
    localtime_r(&t, &tm);
    snprintf(day, sizeof(day), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (!pw_journal_date_ok(day, strlen(day))) {
      daemon_report_answer(ticket, 422, "catch_up",
                           "预计追平日期超出可以记录的年份（1971年至2100年）。");
      return;
    }
    t = (time_t)now;
    localtime_r(&t, &tm);
    today_end = pw_calendar_day_end(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (catch_up < today_end) {
      daemon_report_answer(ticket, 422, "catch_up", "预计追平日期不能早于今天。");
      return;
    }
  }
  snprintf(source, sizeof(source), "report:%s", sub->department);
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    daemon_report_answer(ticket, 503, NULL, "系统繁忙，请稍后重试。");
    return;
  }
  rc = pw_admit_explain(&d->admit, ind, PW_JOURNAL_AS_OF_LATEST, now, source, reason, measures, day,
                        &as_of, err, sizeof(err));
  if (rc < 0) {
    pw_log_warn("indicator '%s': the explanation from the reporting page of %s is refused: %s",
                sub->indicator, sub->department, err);
    free(job);
    daemon_report_answer(ticket, rc == -ENOMEM ? 503 : 422, NULL,
                         "保存失败，请检查填写的内容后重试。");
    return;
  }
  job->d = d;
  job->ticket = ticket;
  job->explain = 1;
  job->work.data = job;
  pw_strlcpy(job->indicator, sub->indicator, sizeof(job->indicator));
  job->audit_path = pw_path_join(d->conf->daemon.state_dir, "audit.log");
  job->audit_max = d->conf->daemon.audit_max_bytes;
  /* Who explained what, from where (docs/storage.md "audit.log", event "explain"). */
  line = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s?}", "at", (json_int_t)now, "event",
                   "explain", "department", sub->department, "address", sub->address, "token",
                   sub->token != NULL ? sub->token : "", "indicator", sub->indicator, "as_of",
                   (json_int_t)as_of, "reason", reason, "measures", measures, "catch_up",
                   day[0] ? day : NULL);
  if (job->audit_path != NULL)
    job->line = audit_text(line);
  else
    json_decref(line);
  if (job->line == NULL) {
    pw_log_error("out of memory: the audit line of an explanation of %s is lost", sub->indicator);
    job->line = strdup("");
  }
  pw_persist_kick(d->persist, synced, job);
}
