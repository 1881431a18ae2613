/*
 * notify_robot: DingTalk, WeCom and Feishu robot messages. All three take a markdown-ish text;
 * the alerts of one notification are written as one line each in Chinese, and a notification
 * longer than the robot's limit is split into several messages (DingTalk advises merging
 * alarms into one summary, and every robot caps the message size). DingTalk signs in the URL,
 * Feishu in the body with key and message swapped, WeCom not at all.
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

#include "util.h"
#include "value.h"

/* Bytes of text per message, kept well under each robot's limit (DingTalk 20000 bytes,
 * WeCom markdown 4096, Feishu 20 KB for the whole body). */
static size_t text_limit(enum pw_receiver_type t) {
  return t == PW_RECV_WECOM ? 3800 : t == PW_RECV_FEISHU ? 16000 : 18000;
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
  char msg[1024], b64[64], *esc;

  snprintf(msg, sizeof(msg), "%lld\n%s", (long long)ts_ms, secret);
  if (b64_hmac(secret, strlen(secret), msg, strlen(msg), b64, sizeof(b64)) < 0)
    return -EINVAL;
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
  char key[1024];

  snprintf(key, sizeof(key), "%lld\n%s", (long long)ts_s, secret);
  return b64_hmac(key, strlen(key), "", 0, out, outlen);
}

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* "5月1日" from an as_of such as "2024-05-02T00:00:00+08:00", which is the end of May 1. */
static void as_of_day(const char *iso, char *buf, size_t size) {
  int y, m, d, hh, mm, ss;
  int64_t t;

  buf[0] = '\0';
  if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &m, &d, &hh, &mm, &ss) != 6)
    return;
  /* The local wall time is what the offset-qualified string says; step back one second. */
  t = pw_calendar_utc(y, m, d, hh, mm, ss) - 1;
  {
    int64_t days = t / 86400;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1), mo = (int)(mp < 10 ? mp + 3 : mp - 9);
    snprintf(buf, size, "%d月%d日", mo, dd);
  }
}

void pw_robot_alert_line(const json_t *a, char *buf, size_t size) {
  const char *state = str(a, "state"), *sev = str(a, "severity"), *cond = str(a, "condition");
  const char *label = strcmp(state, "resolved") == 0 ? "已恢复"
                      : strcmp(sev, "severe") == 0   ? "严重滞后"
                      : strcmp(sev, "lagging") == 0  ? "滞后"
                      : strcmp(sev, "stale") == 0    ? "数据陈旧"
                                                     : "数据源故障";
  char day[32], num[48], detail[256] = "";
  json_t *lag = json_object_get(a, "lag"), *comp = json_object_get(a, "completion_pct");

  if (strcmp(cond, "dead_letter") == 0) {
    snprintf(buf, size, "【投递失败】发往 %s 的通知 %s 已放弃：%s", str(a, "name"),
             str(a, "delivery"), str(a, "error"));
    return;
  }
  if (strcmp(cond, "source_down") == 0) {
    snprintf(buf, size, "【%s】数据源 %s 连续采集失败", label, str(a, "source"));
    return;
  }
  as_of_day(str(a, "as_of"), day, sizeof(day));
  if (strcmp(cond, "stale") == 0) {
    snprintf(detail, sizeof(detail), "%s%s", day[0] ? "最新数据截至" : "数据未更新",
             day[0] ? day : "");
  } else if (json_is_number(comp) && json_is_number(lag)) {
    snprintf(detail, sizeof(detail), "截至%s完成率%.1f%%，序时进度%.1f%%，滞后%.1f个百分点", day,
             json_number_value(comp), json_number_value(json_object_get(a, "pace_pct")),
             json_number_value(lag));
  } else if (json_is_number(lag) && strcmp(str(a, "lag_unit"), "days") == 0) {
    snprintf(detail, sizeof(detail), "逾期%.0f天", ceil(json_number_value(lag)));
  } else if (json_is_number(lag)) {
    snprintf(detail, sizeof(detail), "截至%s为%s%s，差距%.2f%s", day,
             pw_value_format_zh(json_number_value(json_object_get(a, "value")), num, sizeof(num)),
             "", json_number_value(lag), str(a, "lag_unit"));
  }
  snprintf(buf, size, "【%s】%s%s%s%s%s", label, str(a, "name"),
           json_is_string(json_object_get(a, "department")) ? "（" : "",
           json_is_string(json_object_get(a, "department")) ? str(a, "department") : "",
           json_is_string(json_object_get(a, "department")) ? "）" : "", detail[0] ? "：" : "");
  if (detail[0] != '\0' && strlen(buf) + strlen(detail) < size)
    memcpy(buf + strlen(buf), detail, strlen(detail) + 1);
}

static int add_request(struct pw_robot_request **reqs, size_t *n, char *url, json_t *body) {
  struct pw_robot_request *nr = realloc(*reqs, (*n + 1) * sizeof(**reqs));
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

  json_decref(body);
  if (nr == NULL || text == NULL) {
    free(url);
    free(text);
    if (nr != NULL)
      *reqs = nr;
    return -ENOMEM;
  }
  *reqs = nr;
  nr[*n].url = url;
  nr[*n].body = text;
  nr[*n].body_len = strlen(text);
  (*n)++;
  return 0;
}

/* One message of TEXT (markdown lines) for R. */
static int one_message(const struct pw_receiver *r, const char *title, const char *text,
                       int64_t now_ms, struct pw_robot_request **reqs, size_t *n, char *err,
                       size_t errlen) {
  struct pw_buf url = {NULL, 0, 0, 0};
  json_t *body = NULL;
  char sign[128];
  int i;

  pw_buf_printf(&url, "%s", r->url);
  if (r->type == PW_RECV_DINGTALK) {
    json_t *mobiles = json_array();
    struct pw_buf t = {NULL, 0, 0, 0};
    if (r->secret != NULL && r->secret[0] != '\0') {
      if (pw_robot_sign_dingtalk(r->secret, now_ms, sign, sizeof(sign)) < 0) {
        snprintf(err, errlen, "receiver '%s': cannot sign", r->id);
        pw_buf_free(&url);
        json_decref(mobiles);
        return -EINVAL;
      }
      pw_buf_printf(&url, "%stimestamp=%lld&sign=%s", strchr(r->url, '?') ? "&" : "?",
                    (long long)now_ms, sign);
    }
    pw_buf_printf(&t, "%s", text);
    for (i = 0; i < r->at_mobiles.n; i++) {
      json_array_append_new(mobiles, json_string(r->at_mobiles.items[i]));
      pw_buf_printf(&t, " @%s", r->at_mobiles.items[i]); /* DingTalk needs them in the text */
    }
    body = json_pack("{s:s,s:{s:s,s:s},s:{s:o,s:b}}", "msgtype", "markdown", "markdown", "title",
                     title, "text", t.data ? t.data : "", "at", "atMobiles", mobiles, "isAtAll",
                     r->at_all);
    pw_buf_free(&t);
  } else if (r->type == PW_RECV_WECOM) {
    body = json_pack("{s:s,s:{s:s}}", "msgtype", "markdown", "markdown", "content", text);
  } else if (r->type == PW_RECV_FEISHU) {
    body = json_pack("{s:s,s:{s:s}}", "msg_type", "text", "content", "text", text);
    if (body != NULL && r->secret != NULL && r->secret[0] != '\0') {
      char ts[32];
      if (pw_robot_sign_feishu(r->secret, now_ms / 1000, sign, sizeof(sign)) < 0) {
        snprintf(err, errlen, "receiver '%s': cannot sign", r->id);
        pw_buf_free(&url);
        json_decref(body);
        return -EINVAL;
      }
      snprintf(ts, sizeof(ts), "%lld", (long long)(now_ms / 1000));
      json_object_set_new(body, "timestamp", json_string(ts));
      json_object_set_new(body, "sign", json_string(sign));
    }
  } else {
    snprintf(err, errlen, "receiver '%s' is not a robot", r->id);
    pw_buf_free(&url);
    return -EINVAL;
  }
  if (add_request(reqs, n, url.data, body) < 0) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (r->type == PW_RECV_WECOM && r->mentioned_mobiles.n > 0) {
    /* WeCom mentions only work in text messages: one follows the markdown. */
    json_t *list = json_array();
    for (i = 0; i < r->mentioned_mobiles.n; i++)
      json_array_append_new(list, json_string(r->mentioned_mobiles.items[i]));
    if (add_request(reqs, n, strdup(r->url),
                    json_pack("{s:s,s:{s:s,s:o}}", "msgtype", "text", "text", "content", title,
                              "mentioned_mobile_list", list)) < 0)
      return -ENOMEM;
  }
  return 0;
}

int pw_robot_render(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                    const char *public_url, struct pw_robot_request **out, size_t *n, char *err,
                    size_t errlen) {
  const json_t *alerts = json_object_get(payload, "alerts");
  struct pw_buf text = {NULL, 0, 0, 0};
  char title[256], line[1024];
  size_t i, firing = 0, resolved = 0, limit = text_limit(r->type), part_start = 0;
  const json_t *a;
  int rc = 0;

  *out = NULL;
  *n = 0;
  if (!json_is_array(alerts) || json_array_size(alerts) == 0) {
    snprintf(err, errlen, "notification without alerts");
    return -EINVAL;
  }
  json_array_foreach(alerts, i, a) {
    if (strcmp(str(a, "state"), "resolved") == 0)
      resolved++;
    else
      firing++;
  }
  snprintf(title, sizeof(title), "%s%s公共服务指标提醒：%zu项需关注，%zu项已恢复",
           r->keyword ? r->keyword : "", r->keyword ? " " : "", firing, resolved);
  json_array_foreach(alerts, i, a) {
    pw_robot_alert_line(a, line, sizeof(line));
    if (text.len == 0)
      pw_buf_printf(&text, "### %s\n\n", title);
    else if (text.len + strlen(line) + 8 > limit) {
      /* Close this message and start the next with the same heading. */
      rc = one_message(r, title, text.data, now_ms, out, n, err, errlen);
      text.len = 0;
      part_start = i;
      if (rc < 0)
        break;
      pw_buf_printf(&text, "### %s（续）\n\n", title);
    }
    pw_buf_printf(&text, "- %s\n", line);
  }
  (void)part_start;
  if (rc == 0 && public_url != NULL && public_url[0] != '\0')
    pw_buf_printf(&text, "\n[查看详情](%s)\n", public_url);
  if (rc == 0 && text.len > 0)
    rc = one_message(r, title, text.data, now_ms, out, n, err, errlen);
  pw_buf_free(&text);
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

int pw_robot_reply(const struct pw_receiver *r, long http_status, const char *body, char *err,
                   size_t errlen) {
  json_error_t jerr;
  json_t *o;
  json_int_t code = 0;
  const char *msg = "";
  int rc;

  if (http_status == 429 || http_status >= 500) {
    snprintf(err, errlen, "HTTP %ld", http_status);
    return -EAGAIN;
  }
  if (http_status >= 400) {
    snprintf(err, errlen, "HTTP %ld: %.200s", http_status, body);
    return -EPERM;
  }
  o = json_loads(body, 0, &jerr);
  if (o == NULL) {
    snprintf(err, errlen, "reply is not JSON: %.200s", body);
    return -EAGAIN;
  }
  if (json_unpack(o, "{s:I}", r->type == PW_RECV_FEISHU ? "code" : "errcode", &code) != 0)
    json_unpack(o, "{s:I}", "StatusCode", &code);
  json_unpack(o, "{s:s}", r->type == PW_RECV_FEISHU ? "msg" : "errmsg", &msg);
  snprintf(err, errlen, "%s %lld: %.200s", r->type == PW_RECV_FEISHU ? "code" : "errcode",
           (long long)code, msg);
  if (code == 0)
    rc = 0;
  else if (code == 310000 || code == 19021 || code == 19022 || code == 19024 || code == 93000 ||
           code == 40013 || code == 300001)
    rc = -EPERM; /* signature, keyword, IP or key refusals: retrying cannot help */
  else
    rc = -EAGAIN; /* 130101 too fast, 11232 rate limit, and anything unknown */
  json_decref(o);
  return rc;
}
