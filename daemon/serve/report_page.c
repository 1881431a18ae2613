/*
 * report_page: see report_page.h. Every text from the configuration or the journal is
 * HTML-escaped; figures are written as the briefing writes them (graphs/report_words.c), and
 * what is due now is the briefing's own sentence for the indicator (pw_report_sentence).
 */
#include "report_page.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "report.h"
#include "report_upload.h"
#include "status.h"

/* Phone first: one column, inputs and buttons at least 44 px high, 16 px text (a phone does
 * not zoom into an input of that size). */
static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"Noto Sans SC\",\"Microsoft YaHei\","
    "sans-serif;background:#f4f5f7;color:#222;font-size:16px;line-height:1.5;"
    "overflow-wrap:anywhere}"
    "header{background:#1f3b63;color:#fff;padding:14px 16px}"
    "header h1{margin:0;font-size:20px;line-height:1.3}header p{margin:4px 0 0;font-size:14px;"
    "opacity:.9}"
    "main{max-width:640px;margin:0 auto;padding:8px 12px 32px}"
    "#msg{background:#fff3e0;color:#8a3b00;border-radius:6px;padding:10px 12px;margin:12px 0}"
    ".lead{font-size:14px;color:#444;margin:12px 0}"
    ".ind{background:#fff;border-radius:8px;padding:14px;margin:14px 0;"
    "box-shadow:0 1px 2px rgba(0,0,0,.12)}"
    ".ind h2{display:inline;font-size:17px;margin:0}"
    ".light{display:inline-block;width:14px;height:14px;border-radius:50%;margin-right:6px;"
    "vertical-align:-1px;border:1px solid rgba(0,0,0,.2)}"
    ".s-ok{background:#2e7d32}.s-lagging{background:#f0a500}.s-severe{background:#c62828}"
    ".s-no_data{background:#9e9e9e}.s-no_target{background:#607d8b}"
    ".st{display:inline-block;margin-left:8px;font-size:13px;padding:1px 8px;border-radius:10px;"
    "background:#eef0f3}"
    ".fig{font-size:20px;margin:8px 0 2px}.fig small{font-size:13px;color:#555;margin-left:6px}"
    ".due{font-size:14px;color:#333;margin:4px 0 8px}"
    ".part{border-top:1px solid #e3e6ea;margin-top:10px;padding-top:6px}"
    ".part h3{font-size:15px;margin:6px 0}"
    ".expl{font-size:14px;background:#fff8e1;border-radius:6px;padding:8px 10px;margin:4px 0}"
    "label{display:block;font-size:14px;color:#444;margin-top:8px}"
    "input,select,textarea{display:block;width:100%;font-size:16px;min-height:44px;"
    "padding:8px 10px;border:1px solid #b8c0cc;border-radius:6px;background:#fff;"
    "font-family:inherit}"
    "textarea{min-height:64px}"
    "button{display:block;width:100%;min-height:48px;margin-top:12px;font-size:17px;"
    "border:0;border-radius:6px;background:#1f3b63;color:#fff}"
    "button:disabled{opacity:.6}"
    ".err{color:#b71c1c;font-size:14px;margin:4px 0 0}.err:empty{display:none}"
    ".result{font-size:15px;margin:10px 0 0}.result:empty{display:none}"
    ".result.ok{color:#1b5e20;background:#e8f5e9;padding:8px 10px;border-radius:6px}"
    ".result.bad{color:#b71c1c}"
    "footer{font-size:12px;color:#666;padding:0 12px 24px;max-width:640px;margin:0 auto}";

/* The page's only script (docs/http.md "Reporting page"). The token comes in the address's
 * fragment, which browsers send neither to the server nor in a Referer; it is kept in
 * sessionStorage (this tab only, gone when the tab closes, never a cookie) and removed from
 * the address at once, so it is not bookmarked or forwarded with a copied address. Every
 * request carries it in X-Pacewatch-Token: a cross-site page cannot set that header. */
static const char script[] =
    "(function(){'use strict';"
    "var app=document.getElementById('app'),dept=app.getAttribute('data-dept'),"
    "msg=document.getElementById('msg'),tok=null,"
    "m=/(?:^#|&)t=([A-Za-z0-9_-]+)/.exec(location.hash);"
    "try{if(m)sessionStorage.setItem('pw-token',m[1]);tok=sessionStorage.getItem('pw-token');}"
    "catch(e){tok=m?m[1]:null;}"
    "if(m&&history.replaceState)history.replaceState(null,'',location.pathname+location.search);"
    "function say(t){msg.textContent=t;msg.hidden=!t;}"
    "function fail(r){"
    "if(r.status===401)say('链接无效或已停用，请向县府办索取新的报送链接。');"
    "else if(r.status===403)say('此链接不能查看或报送该部门的指标。');"
    "else if(r.status===429)say('尝试次数过多，请'+(r.headers.get('Retry-After')||'60')+"
    "'秒后再试。');"
    "else say('暂时无法连接，请稍后再试（'+r.status+'）。');}"
    "function load(then){"
    "if(!tok){say('链接不完整：请从县府办发来的报送链接打开本页。');return;}"
    "fetch(dept+'/view',{headers:{'X-Pacewatch-Token':tok},cache:'no-store'}).then(function(r){"
    "if(!r.ok){fail(r);return;}"
    "return r.text().then(function(h){app.innerHTML=h;say('');"
    "app.querySelectorAll('form.fill,form.explain').forEach(function(f){"
    "f.addEventListener('submit',submit);});if(then)then();});"
    "}).catch(function(){say('网络连接失败，请稍后再试。');});}"
    "function submit(ev){ev.preventDefault();"
    "var f=ev.target,id=f.getAttribute('data-indicator'),b=f.querySelector('button'),"
    "res=f.querySelector('.result'),x=f.classList.contains('explain');"
    "f.querySelectorAll('.err').forEach(function(e){e.textContent='';});"
    "res.textContent='正在保存……';res.className='result';b.disabled=true;"
    "var body=x?{reason:f.elements.reason.value,measures:f.elements.measures.value,"
    "catch_up:f.elements.catch_up.value}:{value:f.elements.value.value,"
    "as_of:f.elements.as_of.value,note:f.elements.note.value};"
    "fetch(dept+'/'+encodeURIComponent(id)+(x?'/explanation':''),{method:'POST',"
    "cache:'no-store',"
    "headers:{'X-Pacewatch-Token':tok,'Content-Type':'application/json'},"
    "body:JSON.stringify(body)}).then(function(r){b.disabled=false;"
    "if(r.status===422)return r.json().then(function(j){"
    "var e=f.querySelector('.err[data-for=\"'+j.field+'\"]');"
    "if(e)e.textContent=j.message;"
    "res.textContent=e?'未保存，请按提示修改后重试。':j.message;res.className='result bad';});"
    "if(!r.ok){res.textContent='';fail(r);return;}"
    "return r.json().then(function(j){load(function(){"
    "var s=document.getElementById('ind-'+id),"
    "o=s&&s.querySelector((x?'form.explain':'form.fill')+' .result');"
    "if(o){o.textContent=j.message;o.className='result ok';}});});"
    "}).catch(function(){b.disabled=false;"
    "res.textContent='网络连接失败，未能确认是否保存，请稍后重试。';res.className='result bad';});}"
    "document.addEventListener('pw-reload',function(){load();});"
    "load();})();";

static char headers[600];

const char *pw_report_page_headers(void) {
  if (headers[0] == '\0') {
    unsigned char h[32], b64[48], up[48];
    const char *upload = pw_report_upload_script();
    SHA256((const unsigned char *)script, sizeof(script) - 1, h);
    EVP_EncodeBlock(b64, h, sizeof(h));
    SHA256((const unsigned char *)upload, strlen(upload), h);
    EVP_EncodeBlock(up, h, sizeof(h));
    snprintf(headers, sizeof(headers),
             "Content-Security-Policy: default-src 'none'; script-src 'sha256-%s' 'sha256-%s'; "
             "style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'none'\r\n"
             "Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n",
             (const char *)b64, (const char *)up);
  }
  return headers;
}

/* Appends S HTML-escaped. */
static int esc(struct pw_buf *out, const char *s) {
  const char *p;
  int rc = 0;

  for (p = s; p != NULL && *p != '\0' && rc == 0; p++) {
    switch (*p) {
    case '&':
      rc = pw_buf_append(out, "&amp;", 5);
      break;
    case '<':
      rc = pw_buf_append(out, "&lt;", 4);
      break;
    case '>':
      rc = pw_buf_append(out, "&gt;", 4);
      break;
    case '"':
      rc = pw_buf_append(out, "&quot;", 6);
      break;
    case '\'':
      rc = pw_buf_append(out, "&#39;", 5);
      break;
    default:
      rc = pw_buf_append(out, p, 1);
    }
  }
  return rc;
}

int pw_report_page_shell(struct pw_buf *out, const struct pw_config *conf, int dept) {
  const struct pw_department *d = &conf->departments[dept];
  int rc;

  rc = pw_buf_printf(out, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                          "<meta name=\"referrer\" content=\"no-referrer\"><title>");
  rc = rc < 0 ? rc : esc(out, d->name);
  rc = rc < 0
           ? rc
           : pw_buf_printf(out, "数据报送</title><style>%s</style></head><body><header><h1>", css);
  rc = rc < 0 ? rc : esc(out, d->name);
  rc = rc < 0 ? rc : pw_buf_printf(out, "数据报送</h1><p>");
  rc = rc < 0 ? rc : esc(out, conf->briefing.title);
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "</p></header><main><p id=\"msg\" role=\"alert\">正在读取……</p>"
                              "%s<div id=\"app\" data-dept=\"%s\"></div></main>"
                              "<footer>本链接仅供本部门报送数据使用，请勿转发。</footer>"
                              "<script>%s</script><script>%s</script></body></html>\n",
                              pw_report_upload_part(), d->id, script, pw_report_upload_script());
  return rc;
}

/* The latest sample of SERIES known at AT (any year), as the briefing names it. */
static const struct pw_sample *latest_of(const struct pw_series *s, int64_t at) {
  const struct pw_sample *best = NULL;
  size_t k;

  for (k = 0; s != NULL && k < s->n; k++)
    if (pw_judge_effective(s->samples, s->n, k, at) &&
        (best == NULL || s->samples[k].as_of > best->as_of))
      best = &s->samples[k];
  return best;
}

/* "2024年3月31日" for an as_of (the end of the day it reports: one second earlier). */
static void day_text(int64_t as_of, char *buf, size_t size) {
  time_t t = (time_t)(as_of - 1);
  struct tm tm;

  localtime_r(&t, &tm);
  snprintf(buf, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The as-of a department most often reports at NOW: the last day of the month before, as
 * "YYYY-MM-DD" (the date input's form), in the configured zone. */
static void default_as_of(int64_t now, char *buf, size_t size) {
  time_t t = (time_t)now;
  struct tm tm;
  int64_t end;

  localtime_r(&t, &tm);
  end = pw_calendar_day_end(tm.tm_year + 1900, tm.tm_mon + 1, 0);
  t = (time_t)(end - 1);
  localtime_r(&t, &tm);
  snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The figure's input: a milestone's stages to choose from, else text read by the value grammar
 * (docs/values.md: "1.2万", "85%"). */
static int value_input(struct pw_buf *out, const struct pw_indicator *ind) {
  int rc, k;

  if (ind->kind == PW_KIND_MILESTONE) {
    rc = pw_buf_printf(out,
                       "<label for=\"v-%s\">目前进展阶段</label><select id=\"v-%s\" "
                       "name=\"value\"><option value=\"\">请选择</option>",
                       ind->id, ind->id);
    for (k = 0; rc == 0 && k < ind->stages.n; k++) {
      rc = pw_buf_printf(out, "<option>");
      rc = rc < 0 ? rc : esc(out, ind->stages.items[k]);
      rc = rc < 0 ? rc : pw_buf_printf(out, "</option>");
    }
    return rc < 0 ? rc : pw_buf_printf(out, "</select>");
  }
  rc = pw_buf_printf(out, "<label for=\"v-%s\">数值", ind->id);
  if (rc == 0 && ind->unit != NULL && ind->unit[0]) {
    rc = pw_buf_printf(out, "（单位：");
    rc = rc < 0 ? rc : esc(out, ind->unit);
    rc = rc < 0 ? rc : pw_buf_printf(out, "）");
  }
  return rc < 0
             ? rc
             : pw_buf_printf(out,
                             "</label><input id=\"v-%s\" name=\"value\" type=\"text\" "
                             "inputmode=\"decimal\" autocomplete=\"off\" placeholder=\"%s\">",
                             ind->id,
                             ind->unit != NULL && strcmp(ind->unit, "%") == 0 ? "如 85% 或 85"
                                                                              : "如 1200、1.2万");
}

/* Appends the current explanation E of indicator IND judged as V at NOW in the shared wording
 * (graphs/report.h pw_report_explanation), escaped. */
static int explanation_text(struct pw_buf *out, const struct pw_config *conf, int ind,
                            const struct pw_explanation *e, const struct pw_verdict *v,
                            int64_t now) {
  struct pw_buf text = {0};
  int rc = pw_report_explanation_at(conf, ind, e, v, now, NULL, &text);

  rc = rc < 0 ? rc : esc(out, text.data);
  pw_buf_free(&text);
  return rc;
}

/* The explanation's part of indicator I (docs/http.md "Reporting page"), for an indicator that
 * lags, is overdue or has a current explanation: that explanation in words, then the form of a
 * new one (<form class="part explain">: 原因, 措施, 预计追平日期), prefilled with the current one.
 */
static int explain_part(struct pw_buf *out, const struct pw_view *view, int i) {
  const struct pw_config *conf = view->conf;
  const struct pw_indicator *ind = &conf->indicators[i];
  const struct pw_verdict *v = &view->verdicts[i];
  const struct pw_explanation *e =
      view->series != NULL ? pw_status_explanation(&view->series[i]) : NULL;
  int rc;

  if (e == NULL && v->status != PW_STATUS_LAGGING && v->status != PW_STATUS_SEVERE && !v->overdue)
    return 0;
  rc = pw_buf_printf(out,
                     "<form class=\"part explain\" data-indicator=\"%s\" novalidate>"
                     "<h3>情况说明</h3>",
                     ind->id);
  if (rc == 0 && e != NULL) {
    rc = pw_buf_printf(out, "<p class=\"expl\">");
    rc = rc < 0 ? rc : explanation_text(out, conf, i, e, v, view->now);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
  }
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "<label for=\"r-%s\">原因（必填，%d字以内）</label><textarea "
                              "id=\"r-%s\" name=\"reason\" rows=\"3\" maxlength=\"%d\">",
                              ind->id, PW_EXPLANATION_MAX, ind->id, PW_EXPLANATION_MAX);
  rc = rc < 0 || e == NULL ? rc : esc(out, e->reason);
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "</textarea><p class=\"err\" data-for=\"reason\"></p>"
                              "<label for=\"m-%s\">措施（%d字以内）</label><textarea id=\"m-%s\" "
                              "name=\"measures\" rows=\"3\" maxlength=\"%d\">",
                              ind->id, PW_EXPLANATION_MAX, ind->id, PW_EXPLANATION_MAX);
  rc = rc < 0 || e == NULL ? rc : esc(out, e->measures);
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "</textarea><p class=\"err\" data-for=\"measures\"></p>"
                              "<label for=\"c-%s\">预计追平日期</label><input id=\"c-%s\" "
                              "name=\"catch_up\" type=\"date\" value=\"%s\">"
                              "<p class=\"err\" data-for=\"catch_up\"></p>"
                              "<button type=\"submit\">保存说明</button><p class=\"result\" "
                              "role=\"status\" aria-live=\"polite\"></p></form>",
                              ind->id, ind->id, e != NULL ? e->catch_up : "");
  return rc;
}

static int section(struct pw_buf *out, const struct pw_view *view, int i, const char *as_of) {
  const struct pw_config *conf = view->conf;
  const struct pw_indicator *ind = &conf->indicators[i];
  const struct pw_verdict *v = &view->verdicts[i];
  const struct pw_series *s = view->series != NULL ? &view->series[i] : NULL;
  const char *st = pw_status_name(v->status);
  char fig[160], day[48];
  struct pw_buf sentence = {0};
  int rc;

  rc = pw_buf_printf(out,
                     "<section class=\"ind\" id=\"ind-%s\" data-indicator=\"%s\" "
                     "data-status=\"%s\"><i class=\"light s-%s\"></i><h2>",
                     ind->id, ind->id, st, st);
  rc = rc < 0 ? rc : esc(out, ind->name);
  rc = rc < 0
           ? rc
           : pw_buf_printf(out, "</h2><span class=\"st\">%s</span>", pw_status_label_zh(v->status));
  if (rc == 0 && v->has_value) {
    if (ind->kind == PW_KIND_MILESTONE && v->stage >= 0 && v->stage < ind->stages.n)
      pw_report_figure(ind, (double)v->stage, fig, sizeof(fig));
    else
      pw_report_figure(ind, v->value, fig, sizeof(fig));
    day_text(v->as_of, day, sizeof(day));
    rc = pw_buf_printf(out, "<p class=\"fig\">");
    rc = rc < 0 ? rc : esc(out, fig);
    rc = rc < 0 ? rc : pw_buf_printf(out, "<small>截至%s</small></p>", day);
  }
  /* What is due now, as the briefing says it (the quarter target, the pace, the standard, and
   * what a lagging indicator needs), the figure's note included. */
  rc = rc < 0 ? rc : pw_report_sentence(conf, i, v, latest_of(s, view->now), view->now, &sentence);
  if (rc == 0) {
    rc = pw_buf_printf(out, "<p class=\"due\">");
    rc = rc < 0 ? rc : esc(out, sentence.data);
    rc = rc < 0 ? rc : pw_buf_printf(out, "</p>");
  }
  pw_buf_free(&sentence);
  rc = rc < 0 ? rc
              : pw_buf_printf(out,
                              "<form class=\"part fill\" data-indicator=\"%s\" novalidate>"
                              "<h3>报送数据</h3>",
                              ind->id);
  rc = rc < 0 ? rc : value_input(out, ind);
  rc = rc < 0 ? rc
              : pw_buf_printf(
                    out,
                    "<p class=\"err\" data-for=\"value\"></p>"
                    "<label for=\"d-%s\">截至日期</label><input id=\"d-%s\" name=\"as_of\" "
                    "type=\"date\" value=\"%s\"><p class=\"err\" data-for=\"as_of\"></p>"
                    "<label for=\"n-%s\">备注（可不填，%d字以内）</label><textarea id=\"n-%s\" "
                    "name=\"note\" rows=\"2\" maxlength=\"%d\"></textarea>"
                    "<p class=\"err\" data-for=\"note\"></p><button type=\"submit\">保存</button>"
                    "<p class=\"result\" role=\"status\" aria-live=\"polite\"></p></form>",
                    ind->id, ind->id, as_of, ind->id, PW_NOTE_MAX, ind->id, PW_NOTE_MAX);
  rc = rc < 0 ? rc : explain_part(out, view, i);
  return rc < 0 ? rc : pw_buf_printf(out, "</section>\n");
}

int pw_report_page_view(struct pw_buf *out, const struct pw_view *view, int dept) {
  const struct pw_config *conf = view->conf;
  char as_of[16], when[64];
  time_t t = (time_t)view->now;
  struct tm tm;
  int i, n = 0, rc;

  for (i = 0; i < conf->n_indicators; i++)
    n += conf->indicators[i].department == dept;
  localtime_r(&t, &tm);
  snprintf(when, sizeof(when), "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  default_as_of(view->now, as_of, sizeof(as_of));
  if (n == 0)
    return pw_buf_printf(out, "<p class=\"lead\">本部门暂无需要报送的指标。</p>");
  rc = pw_buf_printf(
      out,
      "<p class=\"lead\">截至%s，本部门共%d项指标。每项填写数值和截至日期（备注可不填），"
      "点“保存”即报送；显示“已保存”才算报送成功。</p>",
      when, n);
  for (i = 0; rc == 0 && i < conf->n_indicators; i++)
    if (conf->indicators[i].department == dept)
      rc = section(out, view, i, as_of);
  return rc;
}

int pw_report_page_saved(struct pw_buf *out, const struct pw_config *conf, int ind,
                         const struct pw_verdict *v, const struct pw_series *series, int64_t now) {
  int rc = pw_buf_printf(out, "已保存。现为“%s”：", pw_status_label_zh(v->status));

  return rc < 0 ? rc : pw_report_sentence(conf, ind, v, latest_of(series, now), now, out);
}

int pw_report_page_explained(struct pw_buf *out, const struct pw_config *conf, int ind,
                             const struct pw_verdict *v, const struct pw_series *series,
                             int64_t now) {
  const struct pw_explanation *e = pw_status_explanation(series);
  int rc = pw_buf_printf(out, "已保存。");

  if (rc == 0 && e != NULL) {
    rc = pw_report_explanation_at(conf, ind, e, v, now, NULL, out);
    rc = rc < 0 ? rc : pw_buf_printf(out, "。");
  }
  return rc;
}
