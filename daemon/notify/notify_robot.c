/*
 * notify_robot: DingTalk, WeCom and Feishu robot messages. All three take a markdown-ish text;
 * the alerts of one notification are written as one line each in Chinese under a heading that
 * counts them and names the departments, and a notification longer than the robot's limit is
 * split into several messages (DingTalk advises merging alarms into one summary, and every robot
 * caps the message size). DingTalk signs in the URL, Feishu in the body with key and message
 * swapped, WeCom not at all; WeCom alone can carry the trend graph's bytes. The module is pure
 * so that the daemon, tests and any future preview command render identical text.
 */
#include "notify_robot.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "json.h"
#include "notifier.h"
#include "util.h"
#include "value.h"

/* Bytes of text per message. They stay under each robot's limit with room for the JSON around
 * the text (DingTalk 20000 bytes and Feishu 20 KB for the whole body, WeCom 4096 for the
 * markdown content alone); the rendered body is checked against the real limit afterwards. */
static size_t text_limit(enum pw_receiver_type t) {
  return t == PW_RECV_WECOM ? 3800 : t == PW_RECV_FEISHU ? 16000 : 18000;
}

static int has(const char *s) {
  return s != NULL && s[0] != '\0';
}

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* snprintf may cut a multi-byte character, and jansson refuses invalid UTF-8: drop the partial
 * character at the end so a truncated line still renders. */
static void utf8_trim(char *s) {
  size_t n = strlen(s), i = n, need;

  while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
    i--;
  if (i == 0 || ((unsigned char)s[i - 1] & 0x80) == 0)
    return;
  need = ((unsigned char)s[i - 1] & 0xE0) == 0xC0   ? 2
         : ((unsigned char)s[i - 1] & 0xF0) == 0xE0 ? 3
         : ((unsigned char)s[i - 1] & 0xF8) == 0xF0 ? 4
                                                    : 0;
  if (need != n - i + 1)
    s[i - 1] = '\0';
}

static int b64_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len, char *out,
                    size_t outlen) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;

  if (outlen < 45 || HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, mac, &mac_len) == NULL)
    return -EINVAL;
  EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
  return 0;
}

int pw_robot_sign_dingtalk(const char *secret, int64_t ts_ms, char *out, size_t outlen) {
  struct pw_buf msg = {NULL, 0, 0, 0};
  char b64[64], *esc;
  int rc;

  if (secret == NULL || pw_buf_printf(&msg, "%lld\n%s", (long long)ts_ms, secret) < 0) {
    pw_buf_free(&msg);
    return -EINVAL;
  }
  rc = b64_hmac(secret, strlen(secret), msg.data, msg.len, b64, sizeof(b64));
  pw_buf_free(&msg);
  if (rc < 0)
    return rc;
  esc = curl_easy_escape(NULL, b64, 0);
  if (esc == NULL)
    return -ENOMEM;
  if (strlen(esc) >= outlen) {
    curl_free(esc);
    return -EINVAL;
  }
  pw_strlcpy(out, esc, outlen);
  curl_free(esc);
  return 0;
}

int pw_robot_sign_feishu(const char *secret, int64_t ts_s, char *out, size_t outlen) {
  struct pw_buf key = {NULL, 0, 0, 0};
  int rc;

  if (secret == NULL || pw_buf_printf(&key, "%lld\n%s", (long long)ts_s, secret) < 0) {
    pw_buf_free(&key);
    return -EINVAL;
  }
  rc = b64_hmac(key.data, key.len, "", 0, out, outlen);
  pw_buf_free(&key);
  return rc;
}

/* The calendar date of T seconds since 1970-01-01 (UTC arithmetic; days-from-civil inverted). */
static void civil(int64_t t, int *y, int *mo, int *d) {
  int64_t days = (t >= 0 ? t : t - 86399) / 86400;
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*mo <= 2));
}

/* An ISO 8601 instant with its local wall-clock fields as written (the offset says which zone
 * the daemon wrote it in, which is the zone people read the dates in) and its epoch seconds. */
struct iso_time {
  int y, mo, d, h, mi;
  int64_t local; /* wall clock as if it were UTC, seconds */
  int64_t epoch;
};

static int iso_parse(const char *s, struct iso_time *t) {
  int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 1;
  const char *z;

  if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
    return -EINVAL;
  z = s + n;
  if (*z == '.')
    for (z++; *z >= '0' && *z <= '9'; z++)
      ;
  if (*z == '+' || *z == '-') {
    sign = *z == '-' ? -1 : 1;
    if (sscanf(z + 1, "%2d:%2d", &oh, &om) != 2 && sscanf(z + 1, "%2d%2d", &oh, &om) != 2)
      return -EINVAL;
  }
  t->local = pw_calendar_utc(y, mo, d, h, mi, sec);
  t->epoch = t->local - sign * (oh * 3600 + om * 60);
  civil(t->local, &t->y, &t->mo, &t->d);
  t->h = (int)((t->local % 86400 + 86400) % 86400 / 3600);
  t->mi = (int)((t->local % 3600 + 3600) % 3600 / 60);
  return 0;
}

/* "5月1日" from an as_of such as "2024-05-02T00:00:00+08:00": an as_of is the END of the day it
 * reports, so the day shown is that of one second earlier. Empty when AS_OF is not a time. */
static void as_of_day(const char *iso, char *buf, size_t size) {
  struct iso_time t;

  buf[0] = '\0';
  if (iso_parse(iso, &t) < 0)
    return;
  civil(t.local - 1, &t.y, &t.mo, &t.d);
  snprintf(buf, size, "%d月%d日", t.mo, t.d);
}

/* A value with its unit for people ("82.5%", "51.03万人"). */
static void with_unit(double v, const char *unit, char *buf, size_t size) {
  char num[48];

  snprintf(buf, size, "%s%s", pw_value_format_zh(v, num, sizeof(num)), unit);
}

/* The line of one alert; REF is the instant stale ages are counted to (epoch s, or -1 to use
 * the alert's own since). */
static void alert_line(const json_t *a, int64_t ref, char *buf, size_t size) {
  const char *state = str(a, "state"), *sev = str(a, "severity"), *cond = str(a, "condition");
  const char *unit = str(a, "lag_unit");
  int resolved = strcmp(state, "resolved") == 0;
  const char *label = resolved                       ? "已恢复"
                      : strcmp(sev, "severe") == 0   ? "严重滞后"
                      : strcmp(sev, "lagging") == 0  ? "滞后"
                      : strcmp(cond, "stale") == 0   ? "数据陈旧"
                      : strcmp(cond, "overdue") == 0 ? "逾期未报"
                      : strcmp(cond, "remind") == 0  ? "报送提醒"
                      : strcmp(sev, "stale") == 0    ? "数据陈旧"
                                                     : "数据源故障";
  char day[32], v1[64], v2[64], v3[64], detail[1536] = "";
  json_t *lag = json_object_get(a, "lag"), *comp = json_object_get(a, "completion_pct");
  json_t *value = json_object_get(a, "value"), *expected = json_object_get(a, "expected");
  const char *dept = json_string_value(json_object_get(a, "department_name"));
  const char *summary = json_string_value(json_object_get(a, "summary"));
  struct iso_time since, asof;

  if (dept == NULL)
    dept = json_string_value(json_object_get(a, "department"));

  if (strcmp(cond, "dead_letter") == 0) {
    snprintf(buf, size, "【投递失败】发往 %s 的通知 %s 已放弃：%s", str(a, "name"),
             str(a, "delivery"), str(a, "error"));
    utf8_trim(buf);
    return;
  }
  if (strcmp(cond, "source_down") == 0) {
    if (resolved)
      snprintf(buf, size, "【已恢复】数据源 %s 已恢复采集", str(a, "source"));
    else if (iso_parse(str(a, "since"), &since) == 0)
      snprintf(buf, size, "【%s】数据源 %s 连续失败（自%d月%d日%02d:%02d起）", label,
               str(a, "source"), since.mo, since.d, since.h, since.mi);
    else
      snprintf(buf, size, "【%s】数据源 %s 连续失败", label, str(a, "source"));
    utf8_trim(buf);
    return;
  }
  as_of_day(str(a, "as_of"), day, sizeof(day));
  if (summary != NULL) {
    /* The engine's words (docs/alerts.md "What an alert says"): what, how far, since when,
     * what is needed. */
    const char *trend = json_string_value(json_object_get(a, "trend"));
    const char *need = json_string_value(json_object_get(a, "need"));
    snprintf(detail, sizeof(detail), "%s%s%s%s%s", summary, trend ? "；" : "", trend ? trend : "",
             need ? "；" : "", need ? need : "");
  } else if (strcmp(cond, "stale") == 0) {
    if (ref < 0 && iso_parse(str(a, "since"), &since) == 0)
      ref = since.epoch;
    if (resolved)
      snprintf(detail, sizeof(detail), "数据已更新%s%s", day[0] ? "，截至" : "", day);
    else if (iso_parse(str(a, "as_of"), &asof) == 0 && ref >= 0) {
      int64_t days = (ref - asof.epoch) / 86400;
      snprintf(detail, sizeof(detail), "数据超过%lld天未更新（最新数据截至%s）",
               (long long)(days < 1 ? 1 : days), day);
    } else
      snprintf(detail, sizeof(detail), "暂无数据");
  } else if (json_is_number(comp) && json_is_number(lag) && strcmp(unit, "pp") == 0) {
    double l = json_number_value(lag);
    int n = snprintf(detail, sizeof(detail), "截至%s完成率%.1f%%，序时进度%.1f%%", day,
                     json_number_value(comp), json_number_value(json_object_get(a, "pace_pct")));
    if (l > 0 && n > 0 && (size_t)n < sizeof(detail))
      snprintf(detail + n, sizeof(detail) - (size_t)n, "，滞后%.1f个百分点", l);
  } else if (json_is_number(lag) && strcmp(unit, "days") == 0) {
    double l = json_number_value(lag);
    if (resolved || l <= 0)
      snprintf(detail, sizeof(detail), "已无逾期环节");
    else
      snprintf(detail, sizeof(detail), "逾期%.0f天", ceil(l));
  } else if (json_is_number(lag) && json_is_number(value)) {
    /* A standard indicator: lag is the distance to the standard in the indicator's own unit;
     * a value above the standard is behind only for "down" indicators. */
    double l = json_number_value(lag), v = json_number_value(value);
    int above = json_is_number(expected) && v > json_number_value(expected);
    with_unit(v, unit, v1, sizeof(v1));
    if (json_is_number(expected))
      with_unit(json_number_value(expected), unit, v2, sizeof(v2));
    else
      v2[0] = '\0';
    if (strcmp(unit, "%") == 0) {
      char num[48];
      snprintf(v3, sizeof(v3), "%s个百分点", pw_value_format_zh(fabs(l), num, sizeof(num)));
    } else
      with_unit(fabs(l), unit, v3, sizeof(v3));
    if (resolved || l <= 0)
      snprintf(detail, sizeof(detail), "截至%s为%s%s%s，已达标准", day, v1, v2[0] ? "，标准" : "",
               v2);
    else
      snprintf(detail, sizeof(detail), "截至%s为%s%s%s，%s标准%s", day, v1, v2[0] ? "，标准" : "",
               v2, above ? "高于" : "低于", v3);
  }
  snprintf(buf, size, "【%s】%s%s%s%s%s%s", label, str(a, "name"), dept ? "（" : "",
           dept ? dept : "", dept ? "）" : "", detail[0] ? "：" : "", detail);
  utf8_trim(buf);
}

void pw_robot_alert_line(const json_t *alert, char *buf, size_t size) {
  alert_line(alert, -1, buf, size);
}

/* How a robot of type T writes a contact: DingTalk highlights "@mobile" (with the mobile in
 * atMobiles), WeCom mentions in a text message that follows, Feishu cannot mention by mobile. */
static int contact_text(enum pw_receiver_type t, const char *name, const char *mobile,
                        struct pw_buf *out) {
  if (t == PW_RECV_DINGTALK)
    return pw_buf_printf(out, "%s @%s", name, mobile);
  return pw_buf_printf(out, "%s（%s）", name, mobile);
}

int pw_robot_alert_contacts(const json_t *alert, enum pw_receiver_type t, struct pw_buf *out) {
  const json_t *contacts = json_object_get(alert, "contacts"), *c;
  size_t i;
  int rc = 0, first = 1;

  json_array_foreach(contacts, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *mobile = json_string_value(json_object_get(c, "mobile"));
    if (name == NULL || mobile == NULL)
      continue;
    if (rc == 0)
      rc = pw_buf_printf(out, first ? "联系人：" : "、");
    first = 0;
    if (rc == 0)
      rc = contact_text(t, name, mobile, out);
  }
  return rc;
}

/* The second line of an alert in a robot message: the department's explanation (its words, said
 * by the engine), its contacts, the link that opens the indicator on the dashboard and the one to
 * the department's reporting page (报送/说明). Mobiles mentioned are appended to MOBILES (may be
 * NULL). */
static int alert_extra(const json_t *a, const struct pw_receiver *r, int md, struct pw_buf *out,
                       json_t *mobiles) {
  const json_t *contacts = json_object_get(a, "contacts"), *c;
  const char *url = json_string_value(json_object_get(a, "url"));
  const char *report = json_string_value(json_object_get(a, "report_url"));
  const char *said = json_string_value(json_object_get(json_object_get(a, "explanation"), "text"));
  size_t i;
  int rc = said != NULL && said[0] != '\0' ? pw_buf_printf(out, "%s", said) : 0;

  if (rc == 0 && out->len > 0 && json_array_size(contacts) > 0)
    rc = pw_buf_printf(out, "；");
  rc = rc < 0 ? rc : pw_robot_alert_contacts(a, r->type, out);

  json_array_foreach(contacts, i, c) {
    const json_t *m = json_object_get(c, "mobile");
    size_t k;
    const json_t *seen;
    int dup = 0;
    if (mobiles == NULL || !json_is_string(m))
      continue;
    json_array_foreach(mobiles, k, seen) dup |= json_equal(seen, m);
    if (!dup)
      json_array_append(mobiles, (json_t *)m);
  }
  if (rc == 0 && url != NULL && url[0] != '\0')
    rc = md ? pw_buf_printf(out, "%s[查看该指标](%s)", out->len ? "；" : "", url)
            : pw_buf_printf(out, "%s查看该指标：%s", out->len ? "；" : "", url);
  if (rc == 0 && report != NULL && report[0] != '\0')
    rc = md ? pw_buf_printf(out, "%s[报送/说明](%s)", out->len ? "；" : "", report)
            : pw_buf_printf(out, "%s报送/说明：%s", out->len ? "；" : "", report);
  return rc;
}

static int add_request(struct pw_robot_request **reqs, size_t *n, char *url, json_t *body) {
  struct pw_robot_request *nr;
  char *text = body ? pw_json_dumps(body, JSON_COMPACT) : NULL;

  json_decref(body);
  if (url == NULL || text == NULL) {
    free(url);
    free(text);
    return -ENOMEM;
  }
  nr = realloc(*reqs, (*n + 1) * sizeof(**reqs));
  if (nr == NULL) {
    free(url);
    free(text);
    return -ENOMEM;
  }
  *reqs = nr;
  nr[*n].url = url;
  nr[*n].body = text;
  nr[*n].body_len = strlen(text);
  (*n)++;
  return 0;
}

static json_t *string_array(const struct pw_strlist *l) {
  json_t *a = json_array();
  int i;

  for (i = 0; a != NULL && i < l->n; i++)
    if (json_array_append_new(a, json_string(l->items[i])) < 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

/* The per-message context of one render. */
struct render {
  const struct pw_receiver *r;
  int64_t now_ms;
  struct pw_robot_request **reqs;
  size_t *n;
  char *err;
  size_t errlen;
};

static int out_of_memory(struct render *c) {
  snprintf(c->err, c->errlen, "receiver '%s': out of memory", c->r->id);
  return -ENOMEM;
}

/* The mobiles a message mentions: the receiver's own (FIRST message only) and the contacts of
 * the alerts it holds (MOBILES, may be NULL), each once. NULL when out of memory. */
static json_t *mention_list(const struct pw_strlist *own, int first, const json_t *mobiles) {
  json_t *a = first ? string_array(own) : json_array(), *m, *seen;
  size_t i, k;

  json_array_foreach(mobiles, i, m) {
    int dup = 0;
    json_array_foreach(a, k, seen) dup |= json_equal(seen, m);
    if (a != NULL && !dup && json_array_append(a, m) < 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* DingTalk's markdown message; a secret signs the URL. FIRST: it carries the receiver's
 * mentions; MOBILES: the contacts its alerts name (already written "@mobile" in the text). */
static int dingtalk_body(struct render *c, const char *title, int first, const json_t *mobiles,
                         struct pw_buf *url, struct pw_buf *t, json_t **body) {
  const struct pw_receiver *r = c->r;
  char sign[128];
  int i;

  if (has(r->secret)) {
    if (pw_robot_sign_dingtalk(r->secret, c->now_ms, sign, sizeof(sign)) < 0) {
      snprintf(c->err, c->errlen, "receiver '%s': cannot sign", r->id);
      return -EINVAL;
    }
    /* The signature joins the query the robot URL already has (access_token), or starts
     * one. */
    if (pw_buf_printf(url, "%stimestamp=%lld&sign=%s", strchr(url->data, '?') ? "&" : "?",
                      (long long)c->now_ms, sign) < 0)
      return out_of_memory(c);
  }
  /* DingTalk only highlights a mention whose @mobile also appears in the text. */
  for (i = 0; first && i < r->at_mobiles.n; i++)
    if (pw_buf_printf(t, "%s@%s", i == 0 ? "\n\n" : " ", r->at_mobiles.items[i]) < 0)
      return out_of_memory(c);
  *body = json_pack("{s:s,s:{s:s,s:s},s:{s:o,s:b}}", "msgtype", "markdown", "markdown", "title",
                    title, "text", t->data, "at", "atMobiles",
                    mention_list(&r->at_mobiles, first, mobiles), "isAtAll", first && r->at_all);
  return 0;
}

/* WeCom's markdown message, whose content has a limit of its own. */
static int wecom_body(struct render *c, struct pw_buf *t, json_t **body) {
  if (t->len > PW_ROBOT_WECOM_MARKDOWN_MAX) {
    snprintf(c->err, c->errlen, "receiver '%s': markdown of %zu bytes exceeds %d", c->r->id, t->len,
             PW_ROBOT_WECOM_MARKDOWN_MAX);
    return -EINVAL;
  }
  *body = json_pack("{s:s,s:{s:s}}", "msgtype", "markdown", "markdown", "content", t->data);
  return 0;
}

/* Feishu's text message; a secret signs the body. FIRST: it carries the mention of all. */
static int feishu_body(struct render *c, int first, struct pw_buf *t, json_t **body) {
  const struct pw_receiver *r = c->r;
  char sign[128], ts[32];

  if (first && r->at_all && pw_buf_printf(t, "\n<at user_id=\"all\">所有人</at>") < 0)
    return out_of_memory(c);
  *body = json_pack("{s:s,s:{s:s}}", "msg_type", "text", "content", "text", t->data);
  if (*body == NULL || !has(r->secret))
    return 0;
  /* Feishu wants seconds, as a string, in the body; a second-granular timestamp of the same
   * clock DingTalk gets in ms. */
  if (pw_robot_sign_feishu(r->secret, c->now_ms / 1000, sign, sizeof(sign)) < 0) {
    snprintf(c->err, c->errlen, "receiver '%s': cannot sign", r->id);
    return -EINVAL;
  }
  snprintf(ts, sizeof(ts), "%lld", (long long)(c->now_ms / 1000));
  if (json_object_set_new(*body, "timestamp", json_string(ts)) < 0 ||
      json_object_set_new(*body, "sign", json_string(sign)) < 0)
    return out_of_memory(c);
  return 0;
}

/* WeCom mentions only work in text messages: one follows a markdown message that has any. */
static int wecom_mentions(struct render *c, const char *title, json_t *list) {
  const struct pw_receiver *r = c->r;

  if (add_request(c->reqs, c->n, r->url ? strdup(r->url) : NULL,
                  list ? json_pack("{s:s,s:{s:s,s:o}}", "msgtype", "text", "text", "content", title,
                                   "mentioned_mobile_list", list)
                       : NULL) < 0)
    return out_of_memory(c);
  return 0;
}

/* One message of TEXT for the robot; FIRST says whether it carries the receiver's mentions,
 * MOBILES (may be NULL) the contacts of its alerts. */
static int one_message(struct render *c, const char *title, const char *text, int first,
                       const json_t *mobiles) {
  const struct pw_receiver *r = c->r;
  struct pw_buf url = {NULL, 0, 0, 0}, t = {NULL, 0, 0, 0};
  json_t *body = NULL;
  size_t before = *c->n, hard = r->type == PW_RECV_DINGTALK ? PW_ROBOT_DINGTALK_MAX
                                : r->type == PW_RECV_FEISHU ? PW_ROBOT_FEISHU_MAX
                                                            : 0;
  int rc = -EINVAL;

  if (pw_buf_printf(&url, "%s", r->url ? r->url : "") < 0 || pw_buf_printf(&t, "%s", text) < 0) {
    rc = out_of_memory(c);
    goto fail;
  }
  if (r->type == PW_RECV_DINGTALK)
    rc = dingtalk_body(c, title, first, mobiles, &url, &t, &body);
  else if (r->type == PW_RECV_WECOM)
    rc = wecom_body(c, &t, &body);
  else if (r->type == PW_RECV_FEISHU)
    rc = feishu_body(c, first, &t, &body);
  else
    snprintf(c->err, c->errlen, "receiver '%s' is not a robot", r->id);
  if (rc < 0)
    goto fail;
  if (body == NULL) {
    /* json_pack refuses text that is not UTF-8 (a name in the configuration, say). */
    snprintf(c->err, c->errlen, "receiver '%s': cannot build the message (invalid UTF-8?)", r->id);
    rc = -EINVAL;
    goto fail;
  }
  rc = add_request(c->reqs, c->n, url.data, body);
  url.data = NULL;
  body = NULL;
  if (rc < 0) {
    rc = out_of_memory(c);
    goto fail;
  }
  if (hard > 0 && (*c->reqs)[before].body_len > hard) {
    snprintf(c->err, c->errlen, "receiver '%s': message of %zu bytes exceeds %zu", r->id,
             (*c->reqs)[before].body_len, hard);
    rc = -EINVAL;
    goto fail;
  }
  if (r->type == PW_RECV_WECOM) {
    json_t *list = mention_list(&r->mentioned_mobiles, first, mobiles);
    if (list == NULL) {
      rc = out_of_memory(c);
      goto fail;
    }
    if (json_array_size(list) == 0)
      json_decref(list);
    else if ((rc = wecom_mentions(c, title, list)) < 0)
      goto fail;
  }
  pw_buf_free(&t);
  return 0;

fail:
  json_decref(body);
  pw_buf_free(&url);
  pw_buf_free(&t);
  return rc;
}

/* WeCom's image message: base64 of the PNG and the md5 (hex) of its raw bytes. */
static int image_message(struct render *c, const unsigned char *png, size_t png_len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0, i;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  unsigned char *b64 = malloc(4 * ((png_len + 2) / 3) + 1);
  json_t *body;
  int rc;

  if (b64 == NULL || EVP_Digest(png, png_len, md, &md_len, EVP_md5(), NULL) != 1) {
    free(b64);
    snprintf(c->err, c->errlen, "receiver '%s': cannot encode the graph", c->r->id);
    return -ENOMEM;
  }
  for (i = 0; i < md_len; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  EVP_EncodeBlock(b64, png, (int)png_len);
  body = json_pack("{s:s,s:{s:s,s:s}}", "msgtype", "image", "image", "base64", (char *)b64, "md5",
                   hex);
  free(b64);
  rc = add_request(c->reqs, c->n, strdup(c->r->url), body);
  if (rc < 0)
    snprintf(c->err, c->errlen, "receiver '%s': out of memory", c->r->id);
  return rc;
}

/* The heading: how many alerts fire and resolve, and for which departments (up to three named;
 * a source_down alert has none). */
static void heading(const struct pw_receiver *r, const json_t *payload, char *buf, size_t size) {
  const json_t *alerts = json_object_get(payload, "alerts");
  const char *programme = json_string_value(json_object_get(payload, "title"));
  const char *depts[3];
  size_t i, j, firing = 0, resolved = 0, nd = 0, more = 0;
  struct pw_buf h = {NULL, 0, 0, 0};
  const json_t *a;

  json_array_foreach(alerts, i, a) {
    const char *d = json_string_value(json_object_get(a, "department_name"));
    if (d == NULL)
      d = json_string_value(json_object_get(a, "department"));
    if (strcmp(str(a, "state"), "resolved") == 0)
      resolved++;
    else
      firing++;
    for (j = 0; d != NULL && j < nd; j++)
      if (strcmp(depts[j], d) == 0)
        break;
    if (d != NULL && j == nd) {
      if (nd < 3)
        depts[nd++] = d;
      else
        more++;
    }
  }
  /* The keyword leads both title and text, since the robot refuses a message without it. */
  pw_buf_printf(&h, "%s%s%s提醒：", has(r->keyword) ? r->keyword : "", has(r->keyword) ? " " : "",
                has(programme) ? programme : "公共服务指标");
  if (firing > 0)
    pw_buf_printf(&h, "%zu项告警", firing);
  if (resolved > 0)
    pw_buf_printf(&h, "%s%zu项已恢复", firing > 0 ? "，" : "", resolved);
  for (j = 0; j < nd; j++)
    pw_buf_printf(&h, "%s%s", j == 0 ? "（" : "、", depts[j]);
  if (more > 0)
    pw_buf_printf(&h, "等%zu个部门", nd + more);
  if (nd > 0)
    pw_buf_printf(&h, "）");
  pw_strlcpy(buf, h.data ? h.data : "", size);
  utf8_trim(buf);
  pw_buf_free(&h);
}

/* The order of docs/alerts.md: severe, lagging, stale data, failing sources, dead letters,
 * resolutions; within each, as the notification lists them. */
static int rank(const json_t *a) {
  const char *state = str(a, "state"), *sev = str(a, "severity"), *cond = str(a, "condition");

  if (strcmp(state, "resolved") == 0)
    return 5;
  if (strcmp(sev, "severe") == 0)
    return 0;
  if (strcmp(sev, "lagging") == 0)
    return 1;
  if (strcmp(cond, "stale") == 0 || strcmp(cond, "overdue") == 0 || strcmp(cond, "remind") == 0)
    return 2;
  if (strcmp(cond, "source_down") == 0)
    return 3;
  return 4;
}

size_t *pw_robot_order(const json_t *alerts) {
  size_t n = json_array_size(alerts), *idx = calloc(n + 1, sizeof(*idx)), k = 0, i;
  int r;

  for (r = 0; idx != NULL && r <= 5; r++)
    for (i = 0; i < n; i++)
      if (rank(json_array_get(alerts, i)) == r)
        idx[k++] = i;
  return idx;
}

int pw_robot_render_graph(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                          const unsigned char *png, size_t png_len, const char *public_url,
                          struct pw_robot_request **out, size_t *n, char *err, size_t errlen) {
  const json_t *alerts = json_object_get(payload, "alerts");
  struct pw_buf text = {NULL, 0, 0, 0}, tail = {NULL, 0, 0, 0}, extra = {NULL, 0, 0, 0};
  struct render c = {r, now_ms, out, n, err, errlen};
  char title[512], line[2048];
  size_t i, j, budget, parts = 0, *order = NULL;
  json_t *mobiles = NULL, *part_mobiles = NULL;
  const json_t *a;
  struct iso_time sent;
  int64_t ref = iso_parse(str(payload, "sent_at"), &sent) == 0 ? sent.epoch : -1;
  int md = r->type != PW_RECV_FEISHU, rc = 0;

  *out = NULL;
  *n = 0;
  if (r->type != PW_RECV_DINGTALK && r->type != PW_RECV_WECOM && r->type != PW_RECV_FEISHU) {
    snprintf(err, errlen, "receiver '%s' is not a robot", r->id);
    return -EINVAL;
  }
  if (!has(r->url)) {
    snprintf(err, errlen, "receiver '%s' has no url", r->id);
    return -EINVAL;
  }
  if (!json_is_array(alerts) || json_array_size(alerts) == 0) {
    snprintf(err, errlen, "receiver '%s': notification without alerts", r->id);
    return -EINVAL;
  }
  heading(r, payload, title, sizeof(title));
  /* The link goes at the end of the last message; room for it (and DingTalk's @mobiles) is
   * kept in every message, since which one is last is known only at the end. */
  if (has(public_url)) {
    size_t ul = strlen(public_url);
    while (ul > 0 && public_url[ul - 1] == '/')
      ul--;
    rc = md ? pw_buf_printf(&tail, "\n[查看详情](%.*s/)\n", (int)ul, public_url)
            : pw_buf_printf(&tail, "\n详情：%.*s/\n", (int)ul, public_url);
  }
  budget = text_limit(r->type) - tail.len - 32;
  for (i = 0; r->type == PW_RECV_DINGTALK && i < (size_t)r->at_mobiles.n; i++)
    budget -= strlen(r->at_mobiles.items[i]) + 2;
  order = pw_robot_order(alerts);
  part_mobiles = json_array();
  if (order == NULL || part_mobiles == NULL)
    rc = -ENOMEM;
  for (j = 0; rc == 0 && j < json_array_size(alerts); j++) {
    i = order[j];
    a = json_array_get(alerts, i);
    alert_line(a, ref, line, sizeof(line));
    /* The contacts (mentioned) and the link to the indicator on the dashboard. */
    extra.len = 0;
    json_decref(mobiles);
    mobiles = json_array();
    if (mobiles == NULL || alert_extra(a, r, md, &extra, mobiles) < 0) {
      rc = -ENOMEM;
      break;
    }
    if (text.len > 0 && text.len + strlen(line) + extra.len + 8 > budget) {
      /* Close this message and start the next with the same heading. */
      rc = one_message(&c, title, text.data, parts == 0, part_mobiles);
      json_array_clear(part_mobiles);
      if (rc == 0 && parts == 0 && r->type == PW_RECV_WECOM && png != NULL && png_len > 0 &&
          png_len <= PW_ROBOT_WECOM_IMAGE_MAX)
        rc = image_message(&c, png, png_len);
      parts++;
      text.len = 0;
      if (rc < 0)
        break;
    }
    if (text.len == 0) {
      if (parts == 0)
        rc = pw_buf_printf(&text, md ? "### %s\n\n" : "%s\n\n", title);
      else
        rc = pw_buf_printf(&text, md ? "### %s（续%zu）\n\n" : "%s（续%zu）\n\n", title, parts + 1);
    }
    if (rc == 0)
      rc = pw_buf_printf(&text, md ? "- %s\n" : "• %s\n", line);
    if (rc == 0 && extra.len > 0)
      rc = pw_buf_printf(&text, md ? "  %s\n" : "  %s\n", extra.data);
    if (rc == 0 && json_array_extend(part_mobiles, mobiles) < 0)
      rc = -ENOMEM;
  }
  if (rc == 0 && tail.len > 0)
    rc = pw_buf_append(&text, tail.data, tail.len);
  if (rc == -ENOMEM || rc == -E2BIG)
    snprintf(err, errlen, "receiver '%s': out of memory", r->id);
  if (rc == 0)
    rc = one_message(&c, title, text.data, parts == 0, part_mobiles);
  if (rc == 0 && parts == 0 && r->type == PW_RECV_WECOM && png != NULL && png_len > 0 &&
      png_len <= PW_ROBOT_WECOM_IMAGE_MAX)
    rc = image_message(&c, png, png_len);
  pw_buf_free(&text);
  pw_buf_free(&tail);
  pw_buf_free(&extra);
  json_decref(mobiles);
  json_decref(part_mobiles);
  free(order);
  if (rc < 0) {
    pw_robot_requests_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int pw_robot_render(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                    const char *public_url, struct pw_robot_request **out, size_t *n, char *err,
                    size_t errlen) {
  return pw_robot_render_graph(r, payload, now_ms, NULL, 0, public_url, out, n, err, errlen);
}

int pw_robot_render_text(const struct pw_receiver *r, const char *title, const char *text,
                         int64_t now_ms, struct pw_robot_request **out, size_t *n, char *err,
                         size_t errlen) {
  struct render c = {r, now_ms, out, n, err, errlen};
  size_t limit = text_limit(r->type);
  char *cut;
  int rc;

  *out = NULL;
  *n = 0;
  /* A briefing is long: the robot gets its head (the summary and the first areas), cut on a
   * character boundary; the whole text is in the files the daemon wrote. */
  cut = strndup(text, strlen(text) > limit ? limit : strlen(text));
  if (cut == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  utf8_trim(cut);
  rc = one_message(&c, title, cut, 1, NULL);
  free(cut);
  if (rc < 0) {
    pw_robot_requests_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void pw_robot_requests_free(struct pw_robot_request *reqs, size_t n) {
  size_t i;

  for (i = 0; reqs != NULL && i < n; i++) {
    free(reqs[i].url);
    free(reqs[i].body);
  }
  free(reqs);
}

/* Codes after which the same request can never succeed: a wrong signature, a missing keyword,
 * a refused IP, an unknown token or key, a malformed message. Everything else (rate limits such
 * as DingTalk 130101, Feishu 11232, WeCom 45009, and codes we do not know) is retried, since a
 * retry costs little and a dropped alert is what this daemon exists to prevent. */
static int permanent(enum pw_receiver_type t, long long code) {
  switch (t) {
  case PW_RECV_DINGTALK:
    return code == 310000 || code == 300001 || code == 400101;
  case PW_RECV_FEISHU:
    return code == 19001 || code == 19021 || code == 19022 || code == 19024 || code == 9499;
  case PW_RECV_WECOM:
    return (code >= 93000 && code < 94000) || code == 40008 || code == 40058;
  default:
    return 0;
  }
}

int pw_robot_reply(const struct pw_receiver *r, long http_status, const char *body, char *err,
                   size_t errlen) {
  const char *key = r->type == PW_RECV_FEISHU ? "code" : "errcode";
  json_error_t jerr;
  json_t *o, *code_j, *msg_j;
  long long code = 0;
  const char *msg;
  int rc;

  if (body == NULL)
    body = "";
  if (http_status == 429 || http_status >= 500 || http_status < 200) {
    snprintf(err, errlen, "HTTP %ld: %.200s", http_status, body);
    utf8_trim(err);
    return -EAGAIN;
  }
  if (http_status >= 400) {
    snprintf(err, errlen, "HTTP %ld: %.200s", http_status, body);
    utf8_trim(err);
    return -EPERM;
  }
  if (http_status >= 300) {
    /* A redirect nobody followed: perhaps a proxy or a moved endpoint; worth another try. */
    snprintf(err, errlen, "HTTP %ld", http_status);
    return -EAGAIN;
  }
  o = json_loads(body, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    snprintf(err, errlen, "reply is not a JSON object: %.200s", body);
    utf8_trim(err);
    return -EAGAIN;
  }
  code_j = json_object_get(o, key);
  if (code_j == NULL && r->type == PW_RECV_FEISHU)
    code_j = json_object_get(o, "StatusCode"); /* older Feishu replies */
  if (json_is_integer(code_j))
    code = json_integer_value(code_j);
  msg_j = json_object_get(o, r->type == PW_RECV_FEISHU ? "msg" : "errmsg");
  if (msg_j == NULL && r->type == PW_RECV_FEISHU)
    msg_j = json_object_get(o, "StatusMessage");
  msg = json_is_string(msg_j) ? json_string_value(msg_j) : "";
  snprintf(err, errlen, "%s %lld: %.200s", key, code, msg);
  utf8_trim(err);
  rc = code == 0 ? 0 : permanent(r->type, code) ? -EPERM : -EAGAIN;
  json_decref(o);
  return rc;
}

/* ---- the robots as notifiers (notifier.h) ---- */

/* Moves N rendered requests into message OUT (each a POST of JSON), freeing REQS either way. */
static int robot_message(struct pw_robot_request *reqs, size_t n, struct pw_notify_message *out) {
  size_t i;
  int rc = 0;

  for (i = 0; i < n && rc == 0; i++)
    rc = pw_notify_add_transfer(out, reqs[i].url, reqs[i].body, reqs[i].body_len,
                                "Content-Type: application/json;charset=utf-8", NULL);
  pw_robot_requests_free(reqs, n);
  return rc;
}

/* The first graph of IN, or NULL. */
static const unsigned char *first_png(const struct pw_notify_input *in, size_t *len) {
  size_t i;

  for (i = 0; i < in->n_pngs; i++)
    if (in->pngs[i] != NULL && in->png_lens[i] > 0) {
      *len = in->png_lens[i];
      return in->pngs[i];
    }
  *len = 0;
  return NULL;
}

/* A notification's alerts, or the weekly briefing's markdown (cut to the robot's limit) under
 * its title. */
static int robot_build(const struct pw_notify_input *in, struct pw_notify_message *out, char *err,
                       size_t errlen) {
  const json_t *b = json_object_get(in->payload, "briefing");
  struct pw_robot_request *reqs = NULL;
  size_t n = 0, png_len;
  const unsigned char *png = first_png(in, &png_len);
  char why[512];
  int rc;

  memset(out, 0, sizeof(*out));
  if (json_is_object(b)) {
    const char *week = json_string_value(json_object_get(b, "week"));
    const char *title = json_string_value(json_object_get(b, "title"));
    const char *md = json_string_value(json_object_get(b, "markdown"));
    /* The summary written for robots (counts, lagging indicators by department, data gaps, the
     * link; no tables, no images): Markdown for DingTalk and WeCom, plain text for Feishu's
     * text message. A briefing spooled without one falls back to the Markdown's head. */
    const char *sum = json_string_value(
        json_object_get(b, in->r->type == PW_RECV_FEISHU ? "summary_text" : "summary_markdown"));
    char subject[512];
    pw_notify_briefing_subject(b, title, week, subject, sizeof(subject));
    rc = pw_robot_render_text(in->r, subject,
                              sum  ? sum
                              : md ? md
                                   : subject,
                              in->now_real_ms, &reqs, &n, why, sizeof(why));
  } else {
    rc = pw_robot_render_graph(in->r, in->payload, in->now_real_ms, png, png_len, in->public_url,
                               &reqs, &n, why, sizeof(why));
  }
  if (rc < 0) {
    snprintf(err, errlen, "cannot render: %s", why);
    return rc == -ENOMEM ? -EAGAIN : -EPERM;
  }
  if (robot_message(reqs, n, out) < 0) {
    pw_notify_message_free(out);
    snprintf(err, errlen, "out of memory");
    return -EAGAIN;
  }
  return 0;
}

/* No answer at all (refused, timed out) is worth retrying; an answer is the robot's verdict. */
static int robot_judge(const struct pw_receiver *r, int rc, long status, const char *body,
                       const char *error, char *err, size_t errlen) {
  if (rc != 0 && status == 0) {
    snprintf(err, errlen, "%s", error != NULL ? error : "error");
    return -EAGAIN;
  }
  return pw_robot_reply(r, status, body != NULL ? body : "", err, errlen);
}

static int one_request(const json_t *payload) {
  (void)payload;
  return 1;
}

/* A WeCom alert message is a markdown request and its graph's image request, and a text request
 * when its alerts name contacts to mention. */
static int wecom_cost(const json_t *payload) {
  const json_t *alerts = json_object_get(payload, "alerts"), *a;
  size_t i;
  int mentions = 0;

  json_array_foreach(alerts, i, a) mentions |= json_array_size(json_object_get(a, "contacts")) > 0;
  return json_array_size(alerts) > 0 ? 2 + mentions : 1;
}

const struct pw_notifier pw_notifier_dingtalk = {
    .type = PW_RECV_DINGTALK,
    .graphs = PW_NOTIFY_NO_GRAPH,
    .cost = one_request,
    .build = robot_build,
    .judge = robot_judge,
};

/* WeCom alone can carry image bytes: the first alert's trend graph follows the markdown. */
const struct pw_notifier pw_notifier_wecom = {
    .type = PW_RECV_WECOM,
    .graphs = PW_NOTIFY_FIRST_GRAPH,
    .cost = wecom_cost,
    .build = robot_build,
    .judge = robot_judge,
};

/* Feishu allows 5 requests a second besides the per-minute budget (docs/alerts.md). */
const struct pw_notifier pw_notifier_feishu = {
    .type = PW_RECV_FEISHU,
    .graphs = PW_NOTIFY_NO_GRAPH,
    .per_second = 5,
    .cost = one_request,
    .build = robot_build,
    .judge = robot_judge,
};
