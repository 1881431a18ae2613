/*
 * fuzz_inbox: the inbox request reader (daemon/ingest/inbox.h) as the daemon runs it: the input
 * is a request file (what `pacewatch import|record|rebuild` leaves in STATE_DIR/inbox/), taken by
 * pw_inbox_poll on a real libuv loop, its samples admitted (daemon/ingest/admit.h, verdicts
 * judged at a simulated now of 2024-04-30) into a journal that a sync commits. Besides the
 * sanitizers it checks that the request is consumed and answered with a JSON reply holding
 * "ok", and that the journal file then loads back exactly the samples held in memory: what the
 * inbox accepts, the journal can read.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admit.h"
#include "clock.h"
#include "config.h"
#include "fuzz.h"
#include "inbox.h"
#include "journal.h"
#include "log.h"
#include "util.h"

static struct pw_config *conf;
static uv_loop_t loop;
static struct pw_admit admit;
static struct pw_inbox *inbox;
static struct pw_verdict *verdicts;
static char req[4200], reply[4200], jfile[4200];

static void sync_now(void *data, pw_inbox_synced_cb done, void *arg) {
  (void)data;
  done(arg, pw_journal_commit(admit.journal));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static const char text[] =
      "daemon: { state_dir = \"state\"; };\n"
      "domains = ( { id = \"d\"; name = \"D\"; } );\n"
      "indicators = (\n"
      " { id = \"a\"; name = \"A\"; domain = \"d\"; kind = \"cumulative\";\n"
      "   targets = ( { year = 2024; annual = 100; quarters = [ 25, 50, 75, 100 ]; } ); },\n"
      " { id = \"b\"; name = \"B\"; domain = \"d\"; kind = \"standard\";\n"
      "   targets = ( { year = 2024; standard = 5; } ); },\n"
      " { id = \"m\"; name = \"M\"; domain = \"d\"; kind = \"milestone\";\n"
      "   stages = [ \"未启动\", \"建设中\", \"完成\" ];\n"
      "   targets = ( { year = 2024; due = [ \"\", \"2024-03-31\", \"2024-12-31\" ]; } ); } );\n";
  const char *dir = pw_fuzz_tmpdir();
  struct pw_inbox_context ic;
  char path[4200], err[1024];

  (void)argc;
  (void)argv;
  pw_log_set_level(PW_LOG_ERROR);
  snprintf(path, sizeof(path), "%s/inbox.conf", dir);
  pw_fuzz_write_file(path, text, sizeof(text) - 1);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0)
    pw_fuzz_fail("inbox: the fixture configuration does not load: %s", err);
  pw_clock_simulate(1714438800); /* 2024-04-30T09:00:00+08:00 */
  snprintf(path, sizeof(path), "%s/inbox", conf->daemon.state_dir);
  if (pw_mkdir_p(path) < 0)
    pw_fuzz_fail("inbox: cannot make %s", path);
  snprintf(req, sizeof(req), "%s/fuzz.req", path);
  snprintf(reply, sizeof(reply), "%s/fuzz.reply", path);
  snprintf(jfile, sizeof(jfile), "%s/journal/journal.tsv", conf->daemon.state_dir);
  if (uv_loop_init(&loop) != 0)
    pw_fuzz_fail("inbox: no loop");
  verdicts = calloc((size_t)conf->n_indicators, sizeof(*verdicts));
  if (verdicts == NULL)
    pw_fuzz_fail("out of memory");
  admit.conf = conf;
  admit.verdicts = verdicts;
  admit.quiet = 1;
  memset(&ic, 0, sizeof(ic));
  ic.loop = &loop;
  ic.state_dir = conf->daemon.state_dir;
  ic.admit = &admit;
  ic.sync = sync_now;
  if (pw_inbox_init(&ic, &inbox) != 0)
    pw_fuzz_fail("inbox: pw_inbox_init failed");
  return 0;
}

/* Whether the series of A and B hold the same samples. */
static int same(const struct pw_journal *a, const struct pw_journal *b) {
  int i;

  for (i = 0; i < a->n_series; i++) {
    const struct pw_series *x = &a->series[i], *y = &b->series[i];
    size_t k;
    if (x->n != y->n)
      return 0;
    for (k = 0; k < x->n; k++)
      if (x->samples[k].as_of != y->samples[k].as_of ||
          x->samples[k].fetched_at != y->samples[k].fetched_at ||
          x->samples[k].value != y->samples[k].value || x->samples[k].rev != y->samples[k].rev)
        return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pw_journal *j, *back;
  json_error_t jerr;
  json_t *doc;
  char err[1024];

  if (unlink(jfile) != 0 && errno != ENOENT)
    pw_fuzz_fail("inbox: cannot remove %s", jfile);
  if (pw_journal_open(conf, 1, &j, err, sizeof(err)) != 0)
    pw_fuzz_fail("inbox: cannot open the journal: %s", err);
  admit.journal = j;
  memset(verdicts, 0, (size_t)conf->n_indicators * sizeof(*verdicts));
  pw_fuzz_write_file(req, data, size);
  pw_inbox_poll(inbox);
  uv_run(&loop, UV_RUN_DEFAULT);

  if (access(req, F_OK) == 0)
    pw_fuzz_fail("inbox: the request was not taken");
  doc = json_load_file(reply, 0, &jerr);
  if (doc == NULL || !json_is_boolean(json_object_get(doc, "ok")))
    pw_fuzz_fail("inbox: no reply with \"ok\" (%s)", doc == NULL ? jerr.text : "no ok");
  json_decref(doc);
  unlink(reply);

  if (pw_journal_open(conf, 0, &back, err, sizeof(err)) != 0)
    pw_fuzz_fail("inbox: the journal does not load: %s", err);
  if (back->skipped != 0 || back->foreign != 0 || !same(j, back))
    pw_fuzz_fail("inbox: the journal loads differently from what was admitted (%llu lines "
                 "skipped, %llu of unknown indicators)",
                 (unsigned long long)back->skipped, (unsigned long long)back->foreign);
  pw_journal_close(back);
  pw_journal_close(j);
  admit.journal = NULL;
  return 0;
}
