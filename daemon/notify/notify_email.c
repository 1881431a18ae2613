/*
 * notify_email: builds and sends notification emails. curl adds neither Date nor Message-ID
 * and does not encode a UTF-8 subject (docs/libraries.md), so this module does; the text
 * parts are quoted-printable so that lines end in CRLF as SMTP requires.
 */
#include "notify_email.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notifier.h"
#include "notify_robot.h"
#include "util.h"
#include "value.h"

#define MAX_IMAGES 32

struct pw_email_part {
  unsigned char *data;
  size_t len;
};

struct pw_email {
  const struct pw_receiver *r;
  char *subject_header;
  char *text, *html;
  unsigned char *png[MAX_IMAGES];
  size_t png_len[MAX_IMAGES];
  int png_index[MAX_IMAGES]; /* the alert each image belongs to */
  int n_png;
  /* The briefing's graphs, taken out of its HTML's data: URIs as inline parts
   * <graph-i@pacewatch>, and its Word document as an attachment. */
  struct pw_email_part *graphs;
  int n_graphs;
  char *attach;
  size_t attach_len;
  char attach_name[128];
  struct curl_slist *headers, *rcpt;
  curl_mime *mime;
  char from[512];
};

char *pw_email_encode_header(const char *text) {
  struct pw_buf b = {NULL, 0, 0, 0};
  const unsigned char *p = (const unsigned char *)text;
  size_t len = strlen(text), off = 0;
  int first = 1;

  while (off < len) {
    size_t n = len - off > 45 ? 45 : len - off;
    unsigned char enc[64];
    /* Never cut a UTF-8 character: back up to the start of a character. */
    while (off + n < len && n > 0 && (p[off + n] & 0xC0) == 0x80)
      n--;
    EVP_EncodeBlock(enc, p + off, (int)n);
    pw_buf_printf(&b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
    first = 0;
    off += n;
  }
  if (b.data == NULL)
    pw_buf_append(&b, "", 0);
  return b.data;
}

static void html_escape(struct pw_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '<')
      pw_buf_append(b, "&lt;", 4);
    else if (*s == '>')
      pw_buf_append(b, "&gt;", 4);
    else if (*s == '&')
      pw_buf_append(b, "&amp;", 5);
    else if (*s == '"')
      pw_buf_append(b, "&quot;", 6);
    else if (*s == '\'')
      pw_buf_append(b, "&#39;", 5);
    else
      pw_buf_append(b, s, 1);
  }
}

/* Addresses from the configuration end up in header lines: a line break would let one inject
 * headers or SMTP commands, so such an address is refused rather than sent. */
static int bad_address(const char *a) {
  return a == NULL || a[0] == '\0' || strpbrk(a, "\r\n<>") != NULL;
}

/* The figures of a pace alert in 万/亿 ("当前值37774，全年目标19万，序时应达51153.85"), which the
 * one-line summary shared with the robots leaves out (it names only percentages); empty for
 * other alerts, whose summary already carries their value. */
static void value_line(const json_t *a, char *buf, size_t size) {
  const json_t *v = json_object_get(a, "value"), *t = json_object_get(a, "target");
  const json_t *e = json_object_get(a, "expected");
  const char *unit = json_string_value(json_object_get(a, "lag_unit"));
  char n1[48], n2[48], n3[48];

  buf[0] = '\0';
  if (!json_is_number(v) || unit == NULL || strcmp(unit, "pp") != 0)
    return;
  snprintf(buf, size, "当前值%s%s%s%s%s", pw_value_format_zh(json_number_value(v), n1, sizeof(n1)),
           json_is_number(t) ? "，全年目标" : "",
           json_is_number(t) ? pw_value_format_zh(json_number_value(t), n2, sizeof(n2)) : "",
           json_is_number(e) ? "，序时应达" : "",
           json_is_number(e) ? pw_value_format_zh(json_number_value(e), n3, sizeof(n3)) : "");
}

/* RFC 5322 dates are English whatever LC_TIME says, so the names are not left to strftime. */
static void rfc5322_date(int64_t now, char *buf, size_t size) {
  static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)now;
  struct tm tm;
  long off;

  localtime_r(&t, &tm);
  off = tm.tm_gmtoff / 60;
  snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", wd[tm.tm_wday % 7],
           tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
           off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* Subject, From, To, Date, Message-ID and the envelope recipients of M. */
static int finish_headers(struct pw_email *m, const struct pw_receiver *r, const char *subject,
                          int64_t now_real) {
  struct pw_buf to = {NULL, 0, 0, 0};
  char date[64], msgid[96], hdr[1200];
  unsigned char rnd[8];
  size_t i;

  m->subject_header = pw_email_encode_header(subject);
  rfc5322_date(now_real, date, sizeof(date));
  /* A unique id without a clock of its own: 64 random bits beside the second it was sent. */
  if (RAND_bytes(rnd, sizeof(rnd)) != 1)
    memset(rnd, 0, sizeof(rnd));
  snprintf(msgid, sizeof(msgid), "<%lld.%02x%02x%02x%02x%02x%02x%02x%02x@pacewatch>",
           (long long)now_real, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  snprintf(m->from, sizeof(m->from), "<%s>", r->from);
  snprintf(hdr, sizeof(hdr), "Subject: %s", m->subject_header ? m->subject_header : "");
  m->headers = curl_slist_append(m->headers, hdr);
  snprintf(hdr, sizeof(hdr), "From: pacewatch <%s>", r->from);
  m->headers = curl_slist_append(m->headers, hdr);
  /* One To header with every address (RFC 5322 allows the field once), folded per address. */
  for (i = 0; i < (size_t)r->to.n; i++) {
    pw_buf_printf(&to, "%s<%s>", i == 0 ? "To: " : ",\r\n ", r->to.items[i]);
    snprintf(hdr, sizeof(hdr), "<%s>", r->to.items[i]);
    m->rcpt = curl_slist_append(m->rcpt, hdr);
  }
  if (to.data != NULL)
    m->headers = curl_slist_append(m->headers, to.data);
  snprintf(hdr, sizeof(hdr), "Date: %s", date);
  m->headers = curl_slist_append(m->headers, hdr);
  snprintf(hdr, sizeof(hdr), "Message-ID: %s", msgid);
  m->headers = curl_slist_append(m->headers, hdr);
  i = m->subject_header == NULL || m->text == NULL || m->html == NULL || m->headers == NULL ||
      m->rcpt == NULL || to.data == NULL;
  pw_buf_free(&to);
  return i ? -ENOMEM : 0;
}

/* Refuses a receiver without a usable sender and recipients. Returns 0 or -EINVAL with ERR. */
static int check_addresses(const struct pw_receiver *r, char *err, size_t errlen) {
  size_t i;

  if (bad_address(r->from) || r->to.n == 0) {
    snprintf(err, errlen, "receiver '%s': an email needs a from and at least one to", r->id);
    return -EINVAL;
  }
  for (i = 0; i < (size_t)r->to.n; i++)
    if (bad_address(r->to.items[i])) {
      snprintf(err, errlen, "receiver '%s': bad address in to", r->id);
      return -EINVAL;
    }
  return 0;
}

/* Appends the base64 text B64 (N characters) decoded as a new inline graph of M. Returns its
 * index, -EINVAL when it is not base64, or -ENOMEM. */
static int add_graph(struct pw_email *m, const char *b64, size_t n) {
  struct pw_email_part *grown;
  unsigned char *data;
  int len, pad = 0;

  if (n == 0 || n % 4 != 0 || n > (size_t)INT32_MAX)
    return -EINVAL;
  pad = (b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
  data = malloc(n / 4 * 3 + 1);
  if (data == NULL)
    return -ENOMEM;
  /* EVP_DecodeBlock counts the padding's zero bytes: they are taken off again. */
  len = EVP_DecodeBlock(data, (const unsigned char *)b64, (int)n);
  if (len < pad) {
    free(data);
    return -EINVAL;
  }
  grown = realloc(m->graphs, (size_t)(m->n_graphs + 1) * sizeof(*m->graphs));
  if (grown == NULL) {
    free(data);
    return -ENOMEM;
  }
  m->graphs = grown;
  m->graphs[m->n_graphs].data = data;
  m->graphs[m->n_graphs].len = (size_t)(len - pad);
  return m->n_graphs++;
}

/* HTML with every data: URI image replaced by a cid: reference to an inline part of M (mail
 * clients, government ones included, block data: URIs), each image at most 100 % wide. An
 * image that is not base64 PNG loses its source (its alt text stays). Returns owned memory, or
 * NULL when out of memory. */
static char *html_with_cids(struct pw_email *m, const char *html) {
  static const char png[] = "src=\"data:image/png;base64,", any[] = "src=\"data:";
  struct pw_buf b = {NULL, 0, 0, 0};
  const char *p = html, *hit;
  int rc = 0;

  while (rc == 0 && (hit = strstr(p, any)) != NULL) {
    const char *end = strchr(hit + strlen(any), '"');
    int i = -EINVAL;
    if (end == NULL)
      break; /* an attribute never closed: left as it is, it shows nothing */
    rc = pw_buf_append(&b, p, (size_t)(hit - p));
    if (rc == 0 && strncmp(hit, png, strlen(png)) == 0)
      i = add_graph(m, hit + strlen(png), (size_t)(end - hit - strlen(png)));
    if (i == -ENOMEM)
      rc = -ENOMEM;
    else if (rc == 0 && i >= 0)
      rc = pw_buf_printf(&b, "src=\"cid:graph-%d@pacewatch\" style=\"max-width:100%%;height:auto\"",
                         i);
    else if (rc == 0)
      rc = pw_buf_printf(&b, "src=\"\"");
    p = end + 1;
  }
  if (rc == 0)
    rc = pw_buf_append(&b, p, strlen(p));
  if (rc < 0) {
    pw_buf_free(&b);
    return NULL;
  }
  return b.data;
}

int pw_email_build_text(const struct pw_receiver *r, const char *subject, const char *text,
                        const char *html, const char *attach_name, const char *attach,
                        size_t attach_len, int64_t now_real, struct pw_email **out, char *err,
                        size_t errlen) {
  struct pw_email *m;
  int rc;

  *out = NULL;
  rc = check_addresses(r, err, errlen);
  if (rc < 0)
    return rc;
  m = calloc(1, sizeof(*m));
  if (m == NULL)
    return -ENOMEM;
  m->r = r;
  m->text = strdup(text);
  m->html = html_with_cids(m, html);
  if (attach != NULL && attach_name != NULL) {
    snprintf(m->attach_name, sizeof(m->attach_name), "%s", attach_name);
    m->attach = malloc(attach_len > 0 ? attach_len : 1);
    if (m->attach != NULL) {
      memcpy(m->attach, attach, attach_len);
      m->attach_len = attach_len;
    }
  }
  if (m->text == NULL || m->html == NULL || (attach != NULL && m->attach == NULL) ||
      finish_headers(m, r, subject, now_real) < 0) {
    snprintf(err, errlen, "receiver '%s': out of memory building the email", r->id);
    pw_email_free(m);
    return -ENOMEM;
  }
  *out = m;
  return 0;
}

/* The subject of a notification's email: how many indicators lag (or need attention, or
 * recovered) and the first one's name. Returns 0, or -EINVAL when there are no alerts. */
static int alerts_subject(const json_t *payload, const size_t *order, struct pw_buf *subj) {
  const json_t *alerts = json_object_get(payload, "alerts"), *a;
  const char *programme = json_string_value(json_object_get(payload, "title"));
  size_t j, firing = 0, resolved = 0, lagging = 0;
  const char *first_name = NULL;

  if (programme == NULL || programme[0] == '\0')
    programme = "公共服务指标";
  for (j = 0; j < json_array_size(alerts); j++) {
    a = json_array_get(alerts, order[j]);
    const char *state = json_string_value(json_object_get(a, "state"));
    const char *cond = json_string_value(json_object_get(a, "condition"));
    if (state != NULL && strcmp(state, "resolved") == 0)
      resolved++;
    else {
      firing++;
      /* "滞后" only when every firing alert is a lag; stale data or a failing source is not. */
      if (cond == NULL || strcmp(cond, "lag") == 0)
        lagging++;
    }
    if (first_name == NULL)
      first_name = json_string_value(json_object_get(a, "name"));
    if (first_name == NULL)
      first_name = json_string_value(json_object_get(a, "source"));
  }
  if (firing + resolved == 0)
    return -EINVAL;
  if (firing > 0)
    pw_buf_printf(subj, "【%s】%zu项指标%s", programme, firing,
                  lagging == firing ? "滞后" : "需关注");
  else
    pw_buf_printf(subj, "【%s】%zu项指标已恢复", programme, resolved);
  if (first_name != NULL)
    pw_buf_printf(subj, "：%s%s", first_name, firing + resolved > 1 ? "等" : "");
  return 0;
}

/* The colour of an alert's left border: red severe, amber lagging, grey data problems, green
 * resolved (the dashboard's status colours). */
static const char *alert_colour(const json_t *a) {
  const char *state = json_string_value(json_object_get(a, "state"));
  const char *sev = json_string_value(json_object_get(a, "severity"));

  if (state != NULL && strcmp(state, "resolved") == 0)
    return "#2e7d32";
  if (sev != NULL && strcmp(sev, "severe") == 0)
    return "#c62828";
  if (sev != NULL && strcmp(sev, "lagging") == 0)
    return "#ef6c00";
  return "#757575";
}

/* One paragraph of an alert's card in the HTML part. */
static void html_para(struct pw_buf *html, const char *style, const char *text) {
  pw_buf_printf(html, "<p style=\"margin:4px 0;%s\">", style);
  html_escape(html, text);
  pw_buf_printf(html, "</p>");
}

/* Alert I of a notification as an item of the text part and a card of the HTML part (phone
 * width: nothing wider than the screen), with its graph (PNG, LEN bytes; may be NULL) inline.
 * The same facts as the robots' line: what, how far, since when, what is needed, who, where to
 * click. Returns 0 or -ENOMEM. */
static int alert_item(struct pw_email *m, size_t i, const json_t *a, const unsigned char *png,
                      size_t len, struct pw_buf *text, struct pw_buf *html) {
  const char *summary = json_string_value(json_object_get(a, "summary"));
  const char *trend = json_string_value(json_object_get(a, "trend"));
  const char *need = json_string_value(json_object_get(a, "need"));
  const char *url = json_string_value(json_object_get(a, "url"));
  const char *report = json_string_value(json_object_get(a, "report_url"));
  const char *said = json_string_value(json_object_get(json_object_get(a, "explanation"), "text"));
  const char *dept = json_string_value(json_object_get(a, "department_name"));
  struct pw_buf who = {NULL, 0, 0, 0};
  char line[2048], vline[256];

  /* The same summary as the robots' (status, name, department and the engine's words), so that
   * one alert reads the same on every channel. */
  pw_robot_alert_line(a, line, sizeof(line));
  value_line(a, vline, sizeof(vline));
  if (summary != NULL)
    vline[0] = '\0'; /* the words already give the figures in their unit */
  if (dept != NULL)
    pw_buf_printf(&who, "责任单位：%s", dept);
  if (json_array_size(json_object_get(a, "contacts")) > 0) {
    if (who.len > 0)
      pw_buf_printf(&who, "；");
    pw_robot_alert_contacts(a, PW_RECV_EMAIL, &who);
  }
  pw_buf_printf(text, "- %s\r\n", line);
  if (vline[0] != '\0')
    pw_buf_printf(text, "  %s\r\n", vline);
  if (said != NULL)
    pw_buf_printf(text, "  %s\r\n", said);
  if (who.len > 0)
    pw_buf_printf(text, "  %s\r\n", who.data);
  if (url != NULL)
    pw_buf_printf(text, "  查看该指标：%s\r\n", url);
  if (report != NULL)
    pw_buf_printf(text, "  报送/说明：%s\r\n", report);
  pw_buf_printf(html,
                "<div style=\"border-left:4px solid %s;padding:6px 10px;margin:12px 0;"
                "background:#fafafa;max-width:100%%;box-sizing:border-box;"
                "overflow-wrap:anywhere\">",
                alert_colour(a));
  if (summary != NULL) {
    /* The card: label and name as its heading, then the words one per paragraph. */
    const char *colon = strstr(line, "：");
    char head[sizeof(line)];
    snprintf(head, sizeof(head), "%.*s", colon != NULL ? (int)(colon - line) : (int)strlen(line),
             line);
    html_para(html, "font-weight:bold", head);
    html_para(html, "", summary);
    if (trend != NULL)
      html_para(html, "color:#555", trend);
    if (need != NULL)
      html_para(html, "font-weight:bold", need);
  } else {
    html_para(html, "", line);
    if (vline[0] != '\0')
      html_para(html, "", vline);
  }
  if (said != NULL)
    html_para(html, "background:#fff8e1;padding:4px 6px", said);
  if (who.len > 0)
    html_para(html, "color:#555", who.data);
  pw_buf_free(&who);
  if (url != NULL) {
    pw_buf_printf(html, "<p style=\"margin:4px 0\"><a href=\"");
    html_escape(html, url);
    pw_buf_printf(html, "\">查看该指标</a></p>");
  }
  if (report != NULL) {
    pw_buf_printf(html, "<p style=\"margin:4px 0\"><a href=\"");
    html_escape(html, report);
    pw_buf_printf(html, "\">报送/说明</a></p>");
  }
  if (png != NULL && len > 0 && m->n_png < MAX_IMAGES) {
    m->png[m->n_png] = malloc(len);
    if (m->png[m->n_png] == NULL)
      return -ENOMEM;
    memcpy(m->png[m->n_png], png, len);
    m->png_len[m->n_png] = len;
    /* The Content-ID carries the alert's index in the payload, not the image's. */
    m->png_index[m->n_png] = (int)i;
    pw_buf_printf(html,
                  "<img src=\"cid:alert-%zu@pacewatch\" alt=\"趋势图\" "
                  "style=\"display:block;max-width:100%%;height:auto\">",
                  i);
    m->n_png++;
  }
  pw_buf_printf(html, "</div>");
  return 0;
}

int pw_email_build(const struct pw_receiver *r, const json_t *payload,
                   const unsigned char *const *pngs, const size_t *png_lens, int64_t now_real,
                   struct pw_email **out, char *err, size_t errlen) {
  const json_t *alerts = json_object_get(payload, "alerts"), *a;
  struct pw_email *m = NULL;
  struct pw_buf text = {NULL, 0, 0, 0}, html = {NULL, 0, 0, 0}, subj = {NULL, 0, 0, 0};
  size_t i, j, *order;
  int rc;

  *out = NULL;
  rc = check_addresses(r, err, errlen);
  if (rc < 0)
    return rc;
  order = pw_robot_order(alerts);
  if (order == NULL) {
    snprintf(err, errlen, "receiver '%s': out of memory building the email", r->id);
    return -ENOMEM;
  }
  if (alerts_subject(payload, order, &subj) < 0) {
    free(order);
    snprintf(err, errlen, "receiver '%s': notification without alerts", r->id);
    pw_buf_free(&subj);
    return -EINVAL;
  }
  m = calloc(1, sizeof(*m));
  if (m == NULL)
    goto nomem;
  m->r = r;
  pw_buf_printf(&text, "%s\r\n\r\n", subj.data ? subj.data : "");
  /* Phone width (docs/alerts.md): the body is at most 640 px wide and nothing in it wider than
   * the screen. */
  pw_buf_printf(&html, "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                       "</head><body style=\"margin:0;padding:8px;font-family:'Noto Sans CJK SC',"
                       "sans-serif;font-size:15px;line-height:1.5\"><div style=\"max-width:640px;"
                       "margin:0 auto\"><h2 style=\"font-size:18px;margin:8px 0\">");
  html_escape(&html, subj.data ? subj.data : "");
  pw_buf_printf(&html, "</h2>");
  for (j = 0; j < json_array_size(alerts); j++) {
    int has_png = pngs != NULL && png_lens != NULL;
    i = order[j];
    a = json_array_get(alerts, i);
    if (alert_item(m, i, a, has_png ? pngs[i] : NULL, has_png ? png_lens[i] : 0, &text, &html) < 0)
      goto nomem;
  }
  pw_buf_printf(&html, "<p style=\"color:#888\">本邮件由 pacewatch 自动发送。</p></div></body>"
                       "</html>");
  pw_buf_printf(&text, "\r\n本邮件由 pacewatch 自动发送。\r\n");
  m->text = text.data;
  m->html = html.data;
  text.data = html.data = NULL;
  if (finish_headers(m, r, subj.data ? subj.data : "", now_real) < 0)
    goto nomem;
  pw_buf_free(&subj);
  free(order);
  *out = m;
  return 0;

nomem:
  free(order);
  snprintf(err, errlen, "receiver '%s': out of memory building the email", r->id);
  pw_buf_free(&subj);
  pw_buf_free(&text);
  pw_buf_free(&html);
  pw_email_free(m);
  return -ENOMEM;
}

int pw_email_customize(void *easy, void *arg) {
  struct pw_email *m = arg;
  const struct pw_receiver *r = m->r;
  curl_mime *related, *alt;
  curl_mimepart *part;
  struct curl_slist *cid;
  CURLcode c = CURLE_OK;
  char buf[128];
  int i;

  /* A message may be sent again (a retry builds a new transfer): start from a fresh tree. */
  curl_mime_free(m->mime);
  m->mime = curl_mime_init(easy);
  related = curl_mime_init(easy);
  alt = curl_mime_init(easy);
  if (m->mime == NULL || related == NULL || alt == NULL) {
    curl_mime_free(alt);
    curl_mime_free(related);
    curl_mime_free(m->mime);
    m->mime = NULL;
    /* Rather than send a mail without a body, the transfer is not started (a retry follows). */
    return -ENOMEM;
  }
  /* text/plain and text/html as alternatives, inside multipart/related with the images. */
  part = curl_mime_addpart(alt);
  curl_mime_data(part, m->text, CURL_ZERO_TERMINATED);
  curl_mime_type(part, "text/plain; charset=UTF-8");
  curl_mime_encoder(part, "quoted-printable");
  part = curl_mime_addpart(alt);
  curl_mime_data(part, m->html, CURL_ZERO_TERMINATED);
  curl_mime_type(part, "text/html; charset=UTF-8");
  curl_mime_encoder(part, "quoted-printable");
  part = curl_mime_addpart(related);
  curl_mime_subparts(part, alt);
  curl_mime_type(part, "multipart/alternative");
  for (i = 0; i < m->n_png; i++) {
    part = curl_mime_addpart(related);
    curl_mime_data(part, (const char *)m->png[i], m->png_len[i]);
    curl_mime_type(part, "image/png");
    curl_mime_encoder(part, "base64");
    snprintf(buf, sizeof(buf), "Content-ID: <alert-%d@pacewatch>", m->png_index[i]);
    cid = curl_slist_append(NULL, buf);
    cid = curl_slist_append(cid, "Content-Disposition: inline");
    curl_mime_headers(part, cid, 1);
  }
  for (i = 0; i < m->n_graphs; i++) {
    part = curl_mime_addpart(related);
    curl_mime_data(part, (const char *)m->graphs[i].data, m->graphs[i].len);
    curl_mime_type(part, "image/png");
    curl_mime_encoder(part, "base64");
    snprintf(buf, sizeof(buf), "Content-ID: <graph-%d@pacewatch>", i);
    cid = curl_slist_append(NULL, buf);
    cid = curl_slist_append(cid, "Content-Disposition: inline");
    curl_mime_headers(part, cid, 1);
  }
  part = curl_mime_addpart(m->mime);
  curl_mime_subparts(part, related);
  curl_mime_type(part, "multipart/related");
  if (m->attach != NULL) {
    /* The top level is multipart/mixed: the message, then the Word document to edit. */
    part = curl_mime_addpart(m->mime);
    curl_mime_data(part, m->attach, m->attach_len);
    curl_mime_type(part, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    curl_mime_encoder(part, "base64");
    snprintf(buf, sizeof(buf), "Content-Disposition: attachment; filename=\"%s\"", m->attach_name);
    cid = curl_slist_append(NULL, buf);
    curl_mime_headers(part, cid, 1);
  }
#define SET(opt, val)                                                                              \
  do {                                                                                             \
    if (c == CURLE_OK)                                                                             \
      c = curl_easy_setopt(easy, opt, val);                                                        \
  } while (0)
  SET(CURLOPT_MAIL_FROM, m->from);
  SET(CURLOPT_MAIL_RCPT, m->rcpt);
  SET(CURLOPT_HTTPHEADER, m->headers);
  SET(CURLOPT_MIMEPOST, m->mime);
  SET(CURLOPT_UPLOAD, 0L);
  /* STARTTLS when the server offers it; smtps:// is TLS from the start. */
  SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
  if (r->username != NULL && r->username[0] != '\0') {
    SET(CURLOPT_USERNAME, r->username);
    SET(CURLOPT_PASSWORD, r->password ? r->password : "");
  }
#undef SET
  if (c == CURLE_OUT_OF_MEMORY)
    return -ENOMEM;
  return c == CURLE_OK ? 0 : -EINVAL;
}

const char *pw_email_subject_header(const struct pw_email *m) {
  return m->subject_header;
}

void pw_email_free(struct pw_email *m) {
  int i;

  if (m == NULL)
    return;
  curl_mime_free(m->mime);
  curl_slist_free_all(m->headers);
  curl_slist_free_all(m->rcpt);
  for (i = 0; i < m->n_png; i++)
    free(m->png[i]);
  for (i = 0; i < m->n_graphs; i++)
    free(m->graphs[i].data);
  free(m->graphs);
  free(m->attach);
  free(m->subject_header);
  free(m->text);
  free(m->html);
  free(m);
}

/* ---- email as a notifier (notifier.h) ---- */

static void release_email(void *state) {
  pw_email_free(state);
}

static int email_cost(const json_t *payload) {
  (void)payload;
  return 1;
}

/* A notification with each alert's graph inline, or the weekly briefing with its HTML file as
 * the body. Bad addresses can never be sent; running out of memory may pass. */
static int email_build(const struct pw_notify_input *in, struct pw_notify_message *out, char *err,
                       size_t errlen) {
  const json_t *b = json_object_get(in->payload, "briefing");
  struct pw_email *m = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  if (json_is_object(b)) {
    const char *week = json_string_value(json_object_get(b, "week"));
    const char *title = json_string_value(json_object_get(b, "title"));
    const char *md = json_string_value(json_object_get(b, "markdown"));
    const char *path = json_string_value(json_object_get(b, "html_path"));
    char subject[512];
    if (in->briefing_html == NULL) {
      snprintf(err, errlen, "cannot read the briefing %s", path ? path : "?");
      return -EAGAIN;
    }
    pw_notify_briefing_subject(b, title, week, subject, sizeof(subject));
    const char *name = NULL;
    char file[96];
    if (in->briefing_docx != NULL && week != NULL) {
      /* The week is "YYYY-Www": a safe file name; anything else is not attached by name. */
      snprintf(file, sizeof(file), "%s.docx", week);
      name = strspn(week, "0123456789-W") == strlen(week) ? file : "briefing.docx";
    }
    rc = pw_email_build_text(in->r, subject, md ? md : "", in->briefing_html, name,
                             name ? in->briefing_docx : NULL, in->briefing_docx_len,
                             in->now_real_ms / 1000, &m, err, errlen);
  } else {
    rc = pw_email_build(in->r, in->payload, in->n_pngs > 0 ? in->pngs : NULL,
                        in->n_pngs > 0 ? in->png_lens : NULL, in->now_real_ms / 1000, &m, err,
                        errlen);
  }
  if (rc < 0)
    return rc == -ENOMEM ? -EAGAIN : -EPERM;
  /* One SMTP transfer to the receiver's server; pw_email_customize makes it one. */
  rc = pw_notify_add_transfer(out, in->r->url, NULL, 0, NULL, NULL);
  if (rc < 0) {
    pw_email_free(m);
    snprintf(err, errlen, "out of memory");
    return -EAGAIN;
  }
  out->transfers[0].customize = pw_email_customize;
  out->transfers[0].customize_arg = m;
  out->state = m;
  out->release = release_email;
  return 0;
}

/* An SMTP server's permanent refusal (5xx) can never succeed; anything else may pass. */
static int email_judge(const struct pw_receiver *r, int rc, long status, const char *body,
                       const char *error, char *err, size_t errlen) {
  (void)r;
  (void)body;
  /* The server's reply code first: curl's text for a refusal at the end of DATA ("Weird
   * server reply") does not say which (docs/alerts.md, email). */
  if (status >= 400 && status <= 599)
    snprintf(err, errlen, "SMTP %ld: %s", status, error != NULL ? error : "refused");
  else
    snprintf(err, errlen, "%s", error != NULL ? error : "error");
  return rc == 0 ? 0 : rc == -EPERM ? -EPERM : -EAGAIN;
}

const struct pw_notifier pw_notifier_email = {
    .type = PW_RECV_EMAIL,
    .graphs = PW_NOTIFY_EACH_GRAPH,
    .wants_briefing_html = 1,
    .cost = email_cost,
    .build = email_build,
    .judge = email_judge,
};
