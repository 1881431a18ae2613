/*
 * report_upload (pacewatchd): a workbook uploaded on the department reporting page
 * (docs/http.md "Uploading a workbook"). The workbook is read on the thread pool by the reader
 * `pacewatch import` uses (xlsxrows.h: the first sheet with a header naming 指标, 日期 and
 * 数值, the same columns as import), held to a few times the upload's size uncompressed and to
 * UPLOAD_MAX_ROWS rows; one workbook is read at a time. Back on the loop each row is checked
 * against the current generation by the rules a figure from the page passes (admit.h), in the
 * words of the page's own answers (report.c), and the answer is a preview: every row as read
 * and whether it can be saved, or why not. Nothing is stored here: the page saves the rows the
 * department confirms one by one through the figure route, which checks them again, stores them
 * through the single writer and audits them.
 */
#define PW_LOG_MODULE "report"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "report_page.h"
#include "value.h"
#include "xlsxread.h"
#include "xlsxrows.h"

/* Bounds of one upload (docs/http.md): the rows of a department's report, and what its parts
 * may inflate to (a 2 MiB upload of real reports inflates to a few MiB; a zip bomb does not get
 * further than this). */
#define UPLOAD_MAX_ROWS 500
#define UPLOAD_MAX_INFLATED (32u << 20)
/* The characters of a refused row's text shown in the preview. */
#define UPLOAD_SHOW_MAX 120

struct upload {
  uv_work_t work;
  struct pw_daemon *d;
  struct pw_http_submit *ticket;
  char department[80];
  char *data; /* the body, freed on the pool once read */
  size_t len;
  int rc;
  struct pw_xlsx_rows rows;
  char err[1024];
};

/* One row checked. */
struct checked {
  int ind;          /* its indicator, -1 when none of this department */
  int ok;           /* can be saved */
  const char *kind; /* "ok", "bad", "unknown", "refused", "duplicate" */
  char reason[256];
  double value;
  int64_t as_of;
};

static void upload_work(uv_work_t *w) {
  struct upload *u = w->data;
  struct pw_xlsx *wb = NULL;
  size_t i, ns;

  u->rc =
      pw_xlsx_open_memory_max(u->data, u->len, UPLOAD_MAX_INFLATED, &wb, u->err, sizeof(u->err));
  if (u->rc == 0) {
    /* The first sheet whose header names the columns: a cover sheet or a sheet of notes before
     * the data is passed over. */
    ns = pw_xlsx_sheet_count(wb);
    for (i = 0; i < ns || i == 0; i++) {
      pw_xlsx_rows_free(&u->rows);
      u->rc = pw_xlsx_rows_read(wb, ns > 0 ? pw_xlsx_sheet_name(wb, i) : NULL, NULL, 0,
                                UPLOAD_MAX_ROWS, &u->rows, u->err, sizeof(u->err));
      if (u->rc == 0 || u->rows.why != PW_XLSX_ROWS_NO_HEADER)
        break;
    }
  }
  pw_xlsx_free(wb);
  free(u->data);
  u->data = NULL;
}

static void upload_free(struct upload *u) {
  pw_xlsx_rows_free(&u->rows);
  free(u->data);
  free(u);
}

/* The bytes of TEXT's first MAX characters (UTF-8), so that a text cut there stays UTF-8. */
static size_t clip(const char *text, size_t max) {
  size_t n = 0, chars = 0;

  while (text[n] != '\0' && chars < max) {
    n++;
    while ((text[n] & 0xC0) == 0x80)
      n++;
    chars++;
  }
  return n;
}

/* The Chinese name of field K, as a department writes it in the header. */
static const char *field_zh(int k) {
  static const char *const names[PW_XLSX_NF] = {"指标", "日期", "数值", "备注"};

  return k >= 0 && k < PW_XLSX_NF ? names[k] : "?";
}

/* The answer to a workbook that gave no rows, in Chinese; the English reason goes to the log. */
static void refuse(struct upload *u) {
  char msg[256];
  int status = 422;

  if (u->rc == -ENOTSUP) {
    snprintf(msg, sizeof(msg), "这是旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 格式后再上传。");
  } else if (u->rc == -ENOMEM || u->rows.why == PW_XLSX_ROWS_NOMEM) {
    snprintf(msg, sizeof(msg), "系统繁忙，请稍后重试。");
    status = 503;
  } else if (u->rows.why == PW_XLSX_ROWS_NO_HEADER) {
    snprintf(msg, sizeof(msg),
             "表格中没有找到表头：请在数据上方一行写明“指标”“日期”“数值”三列（可加“备注”列）。");
  } else if (u->rows.why == PW_XLSX_ROWS_HEADER_TWICE) {
    int k = 0;
    while (k < PW_XLSX_NF && strstr(u->err, pw_xlsx_field_name(k)) == NULL)
      k++;
    snprintf(msg, sizeof(msg), "表头中“%s”列出现了两次，请只保留一列后再上传。", field_zh(k));
  } else if (u->rows.why == PW_XLSX_ROWS_TOO_MANY) {
    snprintf(msg, sizeof(msg), "表格行数过多（超过%d行），请只上传本部门需要报送的数据。",
             UPLOAD_MAX_ROWS);
  } else if (u->rows.why == PW_XLSX_ROWS_BAD_SHEET) {
    snprintf(msg, sizeof(msg), "工作表无法读取，请在 Excel 中打开检查、重新保存后再上传。");
  } else {
    snprintf(msg, sizeof(msg), "文件无法读取：请上传 Excel 工作簿（.xlsx 格式）。");
  }
  pw_log_info("upload of department %s refused: %s", u->department, u->err);
  daemon_report_answer(u->ticket, status, NULL, msg);
}

/* Checks row R against CONF for department DEPT into *C, by the rules and in the words of the
 * figure route (report.c): the value, the date, the note, then admission's own rules. */
static void check_row(const struct pw_config *conf, int dept, const struct pw_xlsx_rows *rows,
                      const struct pw_xlsx_row *r, int64_t now, struct checked *c) {
  const struct pw_indicator *in;
  struct pw_admit_sample s;
  char note[PW_NOTE_BUF], why[160], ref[16];
  const char *value = r->field[PW_XLSX_F_VALUE], *as_of = r->field[PW_XLSX_F_AS_OF];
  int rc, nl = 0;

  memset(c, 0, sizeof(*c));
  c->kind = "bad";
  c->ind = -1;
  if (r->error >= 0) {
    pw_xlsx_ref_format(r->row, rows->col[r->error], ref, sizeof(ref));
    snprintf(c->reason, sizeof(c->reason), "单元格 %s 是错误值 %.*s，请修改后重新上传。", ref,
             (int)clip(r->field[r->error], 20), r->field[r->error]);
    return;
  }
  c->ind = pw_config_indicator_find(conf, r->field[PW_XLSX_F_INDICATOR]);
  if (c->ind < 0) {
    c->kind = "unknown";
    snprintf(c->reason, sizeof(c->reason), "%s",
             r->field[PW_XLSX_F_INDICATOR][0] == '\0' ? "未填写指标。"
                                                      : "没有这项指标，请核对指标名称或代码。");
    return;
  }
  in = &conf->indicators[c->ind];
  if (in->department != dept) {
    /* Never offered: a department reports its own indicators only. */
    c->ind = -1;
    c->kind = "refused";
    snprintf(c->reason, sizeof(c->reason), "不是本部门的指标，不予保存。");
    return;
  }
  rc = value[strspn(value, " \t")] == '\0' ? PW_ADMIT_NOT_PUBLISHED
                                           : pw_admit_text(in, value, &c->value);
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    snprintf(c->reason, sizeof(c->reason), "%s",
             in->kind == PW_KIND_MILESTONE ? "未填写进展阶段。"
                                           : "未填写数值（尚未统计出来的，可暂不报送）。");
    return;
  }
  if (rc < 0) {
    snprintf(c->reason, sizeof(c->reason), "%s",
             in->kind == PW_KIND_MILESTONE ? "不是该项工作的进展阶段。"
                                           : "数值无法识别，请填写数字，如“1200”“1.2万”“85%”。");
    return;
  }
  if (as_of[strspn(as_of, " \t")] == '\0') {
    snprintf(c->reason, sizeof(c->reason), "未填写截至日期。");
    return;
  }
  if (pw_date_parse(as_of, &c->as_of) < 0) {
    snprintf(c->reason, sizeof(c->reason), "日期无法识别，请按“2024-03-31”或“2024年3月31日”填写。");
    return;
  }
  if (r->field[PW_XLSX_F_NOTE] != NULL) {
    nl = pw_note_clean(r->field[PW_XLSX_F_NOTE], strlen(r->field[PW_XLSX_F_NOTE]), note,
                       sizeof(note));
    if (nl < 0) {
      snprintf(c->reason, sizeof(c->reason), "%s",
               nl == -E2BIG ? "备注不能超过200字。" : "备注含有无法识别的字符。");
      return;
    }
  }
  memset(&s, 0, sizeof(s));
  s.ind = c->ind;
  s.as_of = c->as_of;
  s.own_as_of = 1;
  s.value = c->value;
  s.fetched_at = now;
  s.source = "upload";
  s.note = nl > 0 ? note : NULL;
  rc = pw_admit_check(in, &s, why, sizeof(why));
  if (rc < 0) {
    snprintf(c->reason, sizeof(c->reason), "%s",
             rc == -EDOM        ? "数值超出可以记录的范围。"
             : rc == -EOVERFLOW ? "截至日期超出可以记录的年份（1971年至2100年）。"
             : rc == -ERANGE    ? "截至日期不能晚于今天。"
                                : "不是该项工作的进展阶段。");
    return;
  }
  c->ok = 1;
  c->kind = "ok";
  snprintf(c->reason, sizeof(c->reason), "可保存");
}

/* TEXT for the preview: as it is for a row that can be saved (the page posts it back), else cut
 * to UPLOAD_SHOW_MAX characters. jansson refuses text that is not UTF-8: "?" then. */
static json_t *shown(const char *text, int whole) {
  size_t n;
  json_t *j;

  if (text == NULL)
    return json_string("");
  n = whole ? 0 : clip(text, UPLOAD_SHOW_MAX);
  if (whole || text[n] == '\0')
    j = json_string(text);
  else {
    char buf[UPLOAD_SHOW_MAX * 4 + 8]; /* expat's UTF-8: at most 4 bytes a character */
    snprintf(buf, sizeof(buf), "%.*s…", (int)n, text);
    j = json_string(buf);
  }
  return j != NULL ? j : json_string("?");
}

/* "2024年3月31日" for an as_of (the end of the day it reports: one second earlier). */
static void day_text(int64_t as_of, char *buf, size_t size) {
  time_t t = (time_t)(as_of - 1);
  struct tm tm;

  localtime_r(&t, &tm);
  snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The newest stored value of (IND, AS_OF). */
static int stored_value(const struct pw_series *s, int64_t as_of, double *out) {
  int found = 0;

  for (size_t k = 0; k < s->n; k++)
    if (s->samples[k].as_of == as_of) {
      *out = s->samples[k].value;
      found = 1;
    }
  return found;
}

/* The preview of U's rows against the current generation, department DEPT. Returns the JSON
 * document (owned) or NULL without memory. */
static json_t *preview(struct upload *u, int dept) {
  struct pw_daemon *d = u->d;
  const struct pw_config *conf = d->conf;
  const struct pw_xlsx_rows *rows = &u->rows;
  struct checked *c = calloc(rows->n + 1, sizeof(*c));
  json_t *doc = NULL, *list = json_array();
  int64_t now = pw_clock_now();
  size_t i, j, ok = 0;
  char msg[256];

  if (c == NULL || list == NULL)
    goto out;
  for (i = 0; i < rows->n; i++)
    check_row(conf, dept, rows, &rows->rows[i], now, &c[i]);
  /* Two rows of one indicator and one date: which is meant cannot be told, so neither is. */
  for (i = 0; i < rows->n; i++)
    for (j = 0; c[i].ok && j < rows->n; j++)
      if (j != i && (c[j].ok || !strcmp(c[j].kind, "duplicate")) && c[j].ind == c[i].ind &&
          c[j].as_of == c[i].as_of) {
        c[i].ok = 0;
        c[i].kind = "duplicate";
        snprintf(c[i].reason, sizeof(c[i].reason),
                 "与第%u行重复（同一指标、同一截至日期），请只保留一行后重新上传。",
                 rows->rows[j].row);
      }
  for (i = 0; i < rows->n; i++) {
    const struct pw_xlsx_row *r = &rows->rows[i];
    const struct pw_indicator *in = c[i].ind >= 0 ? &conf->indicators[c[i].ind] : NULL;
    json_t *row = json_pack("{s:I,s:o,s:o,s:o,s:o,s:b,s:s,s:s}", "row", (json_int_t)r->row,
                            "written", shown(r->field[PW_XLSX_F_INDICATOR], c[i].ok), "value",
                            shown(r->field[PW_XLSX_F_VALUE], c[i].ok), "as_of",
                            shown(r->field[PW_XLSX_F_AS_OF], c[i].ok), "note",
                            shown(r->field[PW_XLSX_F_NOTE], c[i].ok), "ok", c[i].ok, "kind",
                            c[i].kind, "reason", c[i].reason);
    if (row == NULL || json_array_append_new(list, row) < 0)
      goto out;
    if (in != NULL) {
      /* The indicator's id and name go out only for the department's own indicators. */
      json_object_set_new(row, "indicator", json_string(in->id));
      json_object_set_new(row, "name", json_string(in->name));
    }
    if (c[i].ok) {
      char fig[160], day[48], old[160];
      double was;
      ok++;
      day_text(c[i].as_of, day, sizeof(day));
      json_object_set_new(row, "figure",
                          json_string(pw_report_figure(in, c[i].value, fig, sizeof(fig))));
      json_object_set_new(row, "date", json_string(day));
      if (stored_value(&d->journal->series[c[i].ind], c[i].as_of, &was)) {
        if (was == c[i].value)
          json_object_set_new(row, "detail", json_string("与已报送的数值相同"));
        else {
          char text[220];
          snprintf(text, sizeof(text), "将更正已报送的数值（原为%s）",
                   pw_report_figure(in, was, old, sizeof(old)));
          json_object_set_new(row, "detail", json_string(text));
        }
      }
    }
  }
  if (rows->n == 0)
    snprintf(msg, sizeof(msg), "工作表“%.*s”的表头下没有数据行。", (int)clip(rows->sheet, 31),
             rows->sheet);
  else if (ok == 0)
    snprintf(msg, sizeof(msg), "共读到%zu行，没有可以保存的数据，请按各行说明修改后重新上传。",
             rows->n);
  else
    snprintf(msg, sizeof(msg),
             "共读到%zu行，其中%zu行可保存%s。尚未保存：核对无误后，请点“确认保存”。", rows->n, ok,
             ok < rows->n ? "，其余各行的原因见说明" : "");
  doc = json_pack("{s:s?,s:I,s:I,s:O,s:s}", "sheet", rows->sheet, "total", (json_int_t)rows->n,
                  "acceptable", (json_int_t)ok, "rows", list, "message", msg);
  pw_log_info("upload of department %s: %zu rows read, %zu can be saved", u->department, rows->n,
              ok);
out:
  json_decref(list);
  free(c);
  return doc;
}

static void upload_done(uv_work_t *w, int status) {
  struct upload *u = w->data;
  struct pw_daemon *d = u->d;
  int dept = -1;

  d->uploading = 0;
  if (d->conf != NULL)
    dept = pw_config_department_index(d->conf, u->department);
  if (status != 0 || d->stopping || dept < 0) {
    daemon_report_answer(u->ticket, 503, NULL, "系统正在更新配置或停止运行，请稍后再试。");
  } else if (u->rc < 0) {
    refuse(u);
  } else {
    daemon_report_send(u->ticket, preview(u, dept), 503, "系统繁忙，请稍后重试。");
  }
  upload_free(u);
}

void daemon_report_upload(void *ctx, const char *department, char *data, size_t len,
                          struct pw_http_submit *ticket) {
  struct pw_daemon *d = ctx;
  struct upload *u;

  if (d->stopping) {
    free(data);
    daemon_report_answer(ticket, 503, NULL, "系统正在更新配置或停止运行，请稍后再试。");
    return;
  }
  if (d->uploading) {
    /* One workbook at a time: each may take tens of MiB while it is read. */
    free(data);
    daemon_report_answer(ticket, 503, NULL, "系统正在读取另一份表格，请稍后再上传。");
    return;
  }
  u = calloc(1, sizeof(*u));
  if (u == NULL) {
    free(data);
    daemon_report_answer(ticket, 503, NULL, "系统繁忙，请稍后重试。");
    return;
  }
  u->d = d;
  u->ticket = ticket;
  u->data = data;
  u->len = len;
  pw_strlcpy(u->department, department, sizeof(u->department));
  u->work.data = u;
  if (uv_queue_work(d->loop, &u->work, upload_work, upload_done) != 0) {
    upload_free(u);
    daemon_report_answer(ticket, 503, NULL, "系统繁忙，请稍后重试。");
    return;
  }
  d->uploading = 1;
}
