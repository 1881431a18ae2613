/*
 * briefing: writes the weekly briefing of docs/briefing.md: renders every indicator's trend
 * graph, builds the document model once (report.h: the county report's sentences and shape)
 * and writes its two renderings, self-contained HTML and Markdown with its PNGs beside it.
 */
#define PW_LOG_MODULE "briefing"
#include "briefing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "docx.h"
#include "graph.h"
#include "json.h"
#include "judge.h"
#include "log.h"
#include "report.h"
#include "status.h"
#include "util.h"

char *pw_briefing_week_name(int64_t t, char *buf, size_t size) {
  return pw_report_week(t, buf, size);
}

/* Renders every indicator's graph to <out_dir>/<week>-<id>.png; PATHS[i] is set for those that
 * rendered. A graph that fails is logged and left out; the briefing goes on without it. */
static int render_graphs(const struct pw_briefing_request *req, const char *week,
                         struct pw_verdict *now, char **paths) {
  const struct pw_config *conf = req->conf;
  char tmp_dir[4200];
  int i;

  /* An indicator without an RRD file gets a placeholder one; it belongs in the state
   * directory's graphs/ (docs/storage.md), not beside the briefing, which may be the user's
   * current directory. When that cannot be made (a read-only state directory), the output
   * directory will do. */
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/graphs", conf->daemon.state_dir);
  if (pw_mkdir_p(tmp_dir) < 0)
    snprintf(tmp_dir, sizeof(tmp_dir), "%s", req->out_dir);
  for (i = 0; i < conf->n_indicators; i++) {
    const char *id = conf->indicators[i].id;
    struct pw_graph_request g;
    char path[4300], err[512];
    int rc;
    pw_status_judge(conf, req->journal->series, i, req->at, &now[i]);
    memset(&g, 0, sizeof(g));
    g.conf = conf;
    g.ind = i;
    g.store = req->store;
    g.verdict = &now[i];
    g.at = req->at;
    g.format = PW_GRAPH_PNG;
    g.small = 0;
    g.out_path = path;
    g.tmp_dir = tmp_dir;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s-%s.png", req->out_dir, week, id) >=
        sizeof(path)) {
      pw_log_error("briefing %s: indicator '%s': graph path too long", week, id);
      continue;
    }
    err[0] = '\0';
    rc = pw_graph_render(&g, NULL, err, sizeof(err));
    if (rc < 0) {
      /* ERR already names the indicator. */
      if (err[0])
        pw_log_error("briefing %s: graph failed: %s", week, err);
      else
        pw_log_error("briefing %s: graph of indicator '%s' failed: %s", week, id, strerror(-rc));
      continue;
    }
    if ((paths[i] = strdup(path)) == NULL)
      return -ENOMEM;
  }
  return 0;
}

/* The channels' document (channels.h) at RES->json_path. */
static int write_json(const struct pw_report *r, const struct pw_config *conf,
                      const struct pw_briefing_result *res, char *err, size_t errlen) {
  json_t *doc = pw_report_json(r, conf->daemon.public_url, res->html_path);
  char *text = doc != NULL ? pw_json_dumps(doc, JSON_COMPACT) : NULL;
  int rc;

  json_decref(doc);
  if (text == NULL) {
    snprintf(err, errlen, "%s: out of memory", res->json_path);
    return -ENOMEM;
  }
  rc = pw_write_file_atomic(res->json_path, text, strlen(text));
  if (rc < 0)
    snprintf(err, errlen, "%s: cannot write: %s", res->json_path, strerror(-rc));
  free(text);
  return rc;
}

int pw_briefing_file_name(const char *name) {
  static const char *const ends[] = {".html", ".md", ".docx", ".json"};
  const char *tmp = strstr(name, ".tmp."), *rest = name + 8;
  size_t n = tmp != NULL ? (size_t)(tmp - name) : strlen(name), i, id;

  if (tmp != NULL && (tmp[5] == '\0' || strspn(tmp + 5, "0123456789") != strlen(tmp + 5)))
    return 0;
  /* "YYYY-Www" */
  if (n < 9 || strspn(name, "0123456789") != 4 || name[4] != '-' || name[5] != 'W' ||
      strspn(name + 6, "0123456789") < 2)
    return 0;
  for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
    if (n - 8 == strlen(ends[i]) && strncmp(rest, ends[i], n - 8) == 0)
      return 1;
  /* "-<id>.png", the id as the configuration allows it */
  if (n < 8 + 6 || rest[0] != '-' || strncmp(name + n - 4, ".png", 4) != 0)
    return 0;
  id = n - 8 - 5;
  for (i = 0; i < id; i++)
    if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", rest[1 + i]) ==
            NULL ||
        rest[1 + i] == '\0')
      return 0;
  return 1;
}

int pw_briefing_write(const struct pw_briefing_request *req, struct pw_briefing_result *res,
                      char *err, size_t errlen) {
  const struct pw_config *conf = req->conf;
  size_t n = (size_t)conf->n_indicators + 1;
  struct pw_report_request rq;
  struct pw_report *r = NULL;
  struct pw_buf h = {NULL, 0, 0, 0}, m = {NULL, 0, 0, 0};
  struct pw_verdict *now = NULL;
  char **paths = NULL, week[16];
  int i, rc;

  memset(res, 0, sizeof(*res));
  pw_report_week(req->at, week, sizeof(week));
  if (week[0] == '\0') {
    snprintf(err, errlen, "briefing: no week for instant %lld", (long long)req->at);
    return -EINVAL;
  }
  memcpy(res->name, week, sizeof(res->name));
  if ((size_t)snprintf(res->html_path, sizeof(res->html_path), "%s/%s.html", req->out_dir, week) >=
          sizeof(res->html_path) ||
      (size_t)snprintf(res->md_path, sizeof(res->md_path), "%s/%s.md", req->out_dir, week) >=
          sizeof(res->md_path) ||
      (size_t)snprintf(res->docx_path, sizeof(res->docx_path), "%s/%s.docx", req->out_dir, week) >=
          sizeof(res->docx_path) ||
      (size_t)snprintf(res->json_path, sizeof(res->json_path), "%s/%s.json", req->out_dir, week) >=
          sizeof(res->json_path)) {
    snprintf(err, errlen, "%s: path too long", req->out_dir);
    return -ENAMETOOLONG;
  }
  rc = pw_mkdir_p(req->out_dir);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot create the directory: %s", req->out_dir, strerror(-rc));
    return rc;
  }
  if (req->graphs) {
    paths = calloc(n, sizeof(*paths));
    now = calloc(n, sizeof(*now));
    rc = paths && now ? render_graphs(req, week, now, paths) : -ENOMEM;
    if (rc < 0) {
      snprintf(err, errlen, "briefing %s: out of memory", week);
      goto out;
    }
  }
  memset(&rq, 0, sizeof(rq));
  rq.conf = conf;
  rq.journal = req->journal;
  rq.at = req->at;
  rq.graphs = (const char *const *)paths;
  rc = pw_report_build(&rq, &r, err, errlen);
  if (rc < 0)
    goto out;
  if ((rc = pw_report_html(r, NULL, &h)) < 0 || (rc = pw_report_markdown(r, &m)) < 0) {
    snprintf(err, errlen, "%s: cannot build the briefing: %s", res->html_path, strerror(-rc));
  } else if ((rc = pw_write_file_atomic(res->html_path, h.data, h.len)) < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", res->html_path, strerror(-rc));
  } else if ((rc = pw_write_file_atomic(res->md_path, m.data, m.len)) < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", res->md_path, strerror(-rc));
  } else if ((rc = pw_report_docx(r, res->docx_path, err, errlen)) < 0) {
    /* ERR names the file. */
  } else if ((rc = write_json(r, conf, res, err, errlen)) < 0) {
    /* ERR names the file. */
  }
out:
  pw_report_free(r);
  pw_buf_free(&h);
  pw_buf_free(&m);
  for (i = 0; paths != NULL && i < conf->n_indicators; i++)
    free(paths[i]);
  free(paths);
  free(now);
  return rc;
}
