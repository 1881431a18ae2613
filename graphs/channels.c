/*
 * channels: the robots' summary and the webhook's structured document of the briefing
 * (channels.h, docs/briefing.md "Delivery"). Both are built from the model alone; no channel
 * gets a table or an image, and no channel's message is the whole briefing cut short.
 */
#include "channels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');

  return slash ? slash + 1 : path;
}

/* Text into robot Markdown: characters that would start markup are escaped, line breaks
 * become spaces. Plain text keeps everything but line breaks. */
static int esc(struct pw_buf *o, const char *s, int markdown) {
  int rc = 0;

  for (; *s && rc == 0; s++) {
    if (*s == '\n' || *s == '\r')
      rc = pw_buf_append(o, " ", 1);
    else if (markdown && strchr("\\`*_[]<>|#", *s) != NULL)
      rc = pw_buf_printf(o, "\\%c", *s);
    else
      rc = pw_buf_append(o, s, 1);
  }
  return rc;
}

/* The summary section's first paragraph: the counts in a sentence. */
static const char *counts_sentence(const struct pw_report *r, char *buf, size_t size) {
  int s;

  buf[0] = '\0';
  for (s = 0; s < r->n_sections; s++)
    if (strcmp(r->sections[s].id, "summary") == 0 && r->sections[s].n_blocks > 0 &&
        r->sections[s].blocks[0].kind == PW_BLOCK_PARAGRAPH)
      return pw_report_block_text(&r->sections[s].blocks[0], buf, size);
  return buf;
}

static int behind(const struct pw_report_item *it) {
  return it->status == PW_STATUS_LAGGING || it->status == PW_STATUS_SEVERE;
}

/* A figure missing or out of date; an indicator without a target is listed on its own. */
static int gap(const struct pw_report_item *it) {
  return it->status == PW_STATUS_NO_DATA || (it->stale && it->status != PW_STATUS_NO_TARGET);
}

/* One line of the summary, appended only when it leaves ROOM bytes free under the limit;
 * returns 1 when it did not fit. */
static int fits(const struct pw_buf *line, const struct pw_buf *out, size_t room) {
  return out->len + line->len + room <= PW_SUMMARY_LIMIT;
}

int pw_report_summary(const struct pw_report *r, int md, const char *link, const char *where,
                      struct pw_buf *out) {
  struct pw_buf line = {NULL, 0, 0, 0}, tail = {NULL, 0, 0, 0};
  char counts[2048];
  int rc = 0, i, j, left;
  const char *b = md ? "**" : "";
  size_t room;

  /* The link goes last but is reserved first: it is the one thing every summary must carry. */
  if (link != NULL)
    rc = md ? pw_buf_printf(&tail, "\n[查看完整简报](%s)\n", link)
            : pw_buf_printf(&tail, "\n完整简报：%s\n", link);
  else
    rc = pw_buf_printf(&tail, "\n完整简报见服务器文件 %s\n", where != NULL ? where : "");
  room = tail.len + 64;
  if (rc == 0 && md)
    rc = pw_buf_printf(out, "### ");
  if (rc == 0)
    rc = esc(out, r->title, md);
  if (rc == 0)
    rc = pw_buf_printf(out, "\n%s", md ? "\n" : "");
  if (rc == 0 && r->issuer[0]) {
    rc = esc(out, r->issuer, md);
    if (rc == 0)
      rc = pw_buf_printf(out, "　");
  }
  if (rc == 0)
    rc = pw_buf_printf(out, "%s（%s）\n\n%s总体情况%s：", r->date, r->period, b, b);
  if (rc == 0)
    rc = esc(out, counts_sentence(r, counts, sizeof(counts)), md);
  if (rc == 0)
    rc = pw_buf_printf(out, "\n");

  /* The lagging indicators, grouped by department in the order departments first appear. */
  left = 0;
  for (i = 0; i < r->n_items; i++)
    left += behind(&r->items[i]);
  if (rc == 0 && left > 0)
    rc = pw_buf_printf(out, "\n%s滞后指标（按责任单位）%s：\n", b, b);
  for (i = 0; rc == 0 && i < r->n_items && left > 0; i++) {
    const struct pw_report_item *it = &r->items[i];
    const char *dep = it->department ? it->department : "未指定责任单位";
    int seen = 0, n = 0;
    if (!behind(it))
      continue;
    for (j = 0; j < i; j++)
      if (behind(&r->items[j]) &&
          strcmp(r->items[j].department ? r->items[j].department : "未指定责任单位", dep) == 0)
        seen = 1;
    if (seen)
      continue;
    line.len = 0;
    rc = pw_buf_printf(&line, "- ");
    if (rc == 0)
      rc = esc(&line, dep, md);
    if (rc == 0)
      rc = pw_buf_printf(&line, "：");
    for (j = i; rc == 0 && j < r->n_items; j++) {
      const struct pw_report_item *x = &r->items[j];
      if (!behind(x) || strcmp(x->department ? x->department : "未指定责任单位", dep) != 0)
        continue;
      rc = pw_buf_printf(&line, "%s", n++ ? "；" : "");
      if (rc == 0)
        rc = esc(&line, x->name, md);
      if (rc == 0)
        rc = pw_buf_printf(&line, "（%s，%s%s）", pw_status_label_zh(x->status), x->figure,
                           x->explanation == NULL ? ""
                           : x->catch_up_passed   ? "，已过预计追平日期"
                                                  : "，已说明原因");
    }
    if (rc == 0)
      rc = pw_buf_printf(&line, "\n");
    if (rc == 0 && !fits(&line, out, room)) {
      rc = pw_buf_printf(out, "- 等%d项，详见完整简报\n", left);
      break;
    }
    if (rc == 0)
      rc = pw_buf_append(out, line.data, line.len);
    left -= n;
  }

  /* The data gaps: what the briefing says of each. */
  left = 0;
  for (i = 0; i < r->n_items; i++)
    left += gap(&r->items[i]);
  if (rc == 0 && left > 0)
    rc = pw_buf_printf(out, "\n%s数据缺口%s：\n", b, b);
  for (i = 0; rc == 0 && i < r->n_items && left > 0; i++) {
    const struct pw_report_item *it = &r->items[i];
    if (!gap(it))
      continue;
    line.len = 0;
    rc = pw_buf_printf(&line, "- ");
    if (rc == 0)
      rc = esc(&line, it->name, md);
    if (rc == 0)
      rc = pw_buf_printf(&line, "：");
    if (rc == 0)
      rc = esc(&line, it->sentence ? it->sentence : "", md);
    if (rc == 0)
      rc = pw_buf_printf(&line, "\n");
    if (rc == 0 && !fits(&line, out, room)) {
      rc = pw_buf_printf(out, "- 等%d项，详见完整简报\n", left);
      break;
    }
    if (rc == 0)
      rc = pw_buf_append(out, line.data, line.len);
    left--;
  }
  /* Targets not issued (or never set): one line of names. */
  line.len = 0;
  for (i = 0, j = 0; rc == 0 && i < r->n_items; i++) {
    if (r->items[i].status != PW_STATUS_NO_TARGET)
      continue;
    rc = pw_buf_printf(&line, "%s", j++ ? "、" : "");
    if (rc == 0)
      rc = esc(&line, r->items[i].name, md);
  }
  if (rc == 0 && j > 0 && line.len + out->len + room + 64 <= PW_SUMMARY_LIMIT)
    rc = pw_buf_printf(out, "\n%s未设目标或任务尚未下达%s：%s\n", b, b, line.data);
  else if (rc == 0 && j > 0)
    rc = pw_buf_printf(out, "\n%s未设目标或任务尚未下达%s：%d项\n", b, b, j);
  if (rc == 0)
    rc = pw_buf_append(out, tail.data, tail.len);
  pw_buf_free(&line);
  pw_buf_free(&tail);
  return rc;
}

static json_t *str_or_null(const char *s) {
  return s != NULL ? json_string(s) : json_null();
}

static json_t *block_json(const struct pw_report *r, const struct pw_report_block *k) {
  json_t *o = json_object(), *a;
  char text[8192];
  int i, c;

  if (o == NULL)
    return NULL;
  if (k->indicator >= 0 && k->indicator < r->n_items)
    json_object_set_new(o, "indicator", json_string(r->items[k->indicator].id));
  switch (k->kind) {
  case PW_BLOCK_PARAGRAPH:
  case PW_BLOCK_SLOT:
    json_object_set_new(o, "type", json_string(k->kind == PW_BLOCK_SLOT ? "slot" : "paragraph"));
    json_object_set_new(o, "text", json_string(pw_report_block_text(k, text, sizeof(text))));
    break;
  case PW_BLOCK_TABLE:
    json_object_set_new(o, "type", json_string("table"));
    a = json_array();
    for (c = 0; c < k->table.n_cols; c++)
      json_array_append_new(a, json_string(k->table.header[c]));
    json_object_set_new(o, "header", a);
    a = json_array();
    for (i = 0; i < k->table.n_rows; i++) {
      json_t *row = json_array();
      for (c = 0; c < k->table.n_cols; c++)
        json_array_append_new(row, json_string(k->table.cells[i * k->table.n_cols + c]));
      json_array_append_new(a, row);
    }
    json_object_set_new(o, "rows", a);
    break;
  case PW_BLOCK_IMAGE:
    json_object_set_new(o, "type", json_string("image"));
    json_object_set_new(o, "indicator", json_string(k->image.id));
    json_object_set_new(o, "caption", json_string(k->image.caption));
    json_object_set_new(o, "file",
                        k->image.path ? json_string(base_name(k->image.path)) : json_null());
    break;
  }
  return o;
}

json_t *pw_report_json(const struct pw_report *r, const char *public_url, const char *html_path) {
  json_t *doc, *secs, *inds, *files, *links;
  struct pw_buf smd = {NULL, 0, 0, 0}, stx = {NULL, 0, 0, 0};
  char name[64], url[4300];
  const char *ext[3] = {"html", "docx", "md"};
  int s, k, i, has_url = public_url != NULL && public_url[0] != '\0';

  doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:i,s:i,s:i,s:i,s:i,s:i},s:b}", "week", r->week, "title",
                  r->title, "issuer", r->issuer, "date", r->date, "period", r->period, "counts",
                  "ok", r->counts[PW_STATUS_OK], "lagging", r->counts[PW_STATUS_LAGGING], "severe",
                  r->counts[PW_STATUS_SEVERE], "no_data", r->counts[PW_STATUS_NO_DATA], "no_target",
                  r->counts[PW_STATUS_NO_TARGET], "stale", r->n_stale, "actions_given",
                  r->actions_given);
  secs = json_array();
  inds = json_array();
  files = json_object();
  links = json_object();
  if (doc == NULL || secs == NULL || inds == NULL || files == NULL || links == NULL)
    goto nomem;
  for (s = 0; s < r->n_sections; s++) {
    const struct pw_report_section *sec = &r->sections[s];
    json_t *blocks = json_array(), *o;
    for (k = 0; blocks != NULL && k < sec->n_blocks; k++)
      json_array_append_new(blocks, block_json(r, &sec->blocks[k]));
    o = json_pack("{s:s,s:i,s:s,s:s,s:b,s:o}", "id", sec->id, "level", sec->level, "number",
                  sec->number, "heading", sec->heading, "appendix", sec->appendix, "blocks",
                  blocks);
    if (o == NULL || json_array_append_new(secs, o) < 0)
      goto nomem;
  }
  for (i = 0; i < r->n_items; i++) {
    const struct pw_report_item *it = &r->items[i];
    json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:b,s:s,s:s,s:b,s:b,s:b,s:o,s:b}", "id", it->id, "name",
                          it->name, "department", str_or_null(it->department), "status",
                          pw_status_name(it->status), "stale", it->stale, "figure",
                          it->figure ? it->figure : "", "sentence",
                          it->sentence ? it->sentence : "", "attention", it->attention, "headline",
                          it->headline, "changed", it->changed, "explanation",
                          str_or_null(it->explanation), "catch_up_passed", it->catch_up_passed);
    if (o == NULL || json_array_append_new(inds, o) < 0)
      goto nomem;
  }
  for (i = 0; i < 3; i++) {
    snprintf(name, sizeof(name), "%s.%s", r->week, ext[i]);
    json_object_set_new(files, ext[i], json_string(name));
    snprintf(url, sizeof(url), "%s/briefings/%s", has_url ? public_url : "", name);
    json_object_set_new(links, ext[i], has_url ? json_string(url) : json_null());
  }
  snprintf(url, sizeof(url), "%s/briefings/%s.html", has_url ? public_url : "", r->week);
  if (pw_report_summary(r, 1, has_url ? url : NULL, html_path, &smd) < 0 ||
      pw_report_summary(r, 0, has_url ? url : NULL, html_path, &stx) < 0)
    goto nomem;
  json_object_set_new(doc, "sections", secs);
  json_object_set_new(doc, "indicators", inds);
  json_object_set_new(doc, "files", files);
  json_object_set_new(doc, "links", links);
  json_object_set_new(doc, "summary_markdown", json_string(smd.data));
  json_object_set_new(doc, "summary_text", json_string(stx.data));
  pw_buf_free(&smd);
  pw_buf_free(&stx);
  return doc;

nomem:
  pw_buf_free(&smd);
  pw_buf_free(&stx);
  json_decref(doc);
  json_decref(secs);
  json_decref(inds);
  json_decref(files);
  json_decref(links);
  return NULL;
}
