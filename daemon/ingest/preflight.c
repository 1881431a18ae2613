/*
 * preflight: the checks of `pacewatchd -t` and `pacewatch check` that look at the machine, not
 * at the file (docs/cli.md#pacewatchd): the state directory, the CA bundles, the file sources
 * and the plugin directory. Permissions are judged for the user the daemon will run as: the
 * caller itself (access(2)), or daemon.user when the caller is root, from the mode bits.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAX_GROUPS 64

/* The user permissions are checked for. */
struct who {
  int self; /* the calling process: access(2) decides */
  uid_t uid;
  gid_t groups[MAX_GROUPS];
  int ngroups;
  char name[64];
};

static void user_name(uid_t uid, char *buf, size_t len) {
  struct passwd *pw = getpwuid(uid);

  if (pw != NULL)
    snprintf(buf, len, "%s", pw->pw_name);
  else
    snprintf(buf, len, "%u", (unsigned)uid);
}

static void find_who(const struct pw_config *conf, struct who *w) {
  const char *name = conf->daemon.user;
  struct passwd *pw;

  memset(w, 0, sizeof(*w));
  /* A daemon.user that does not exist (yet: the package creates it) is for the daemon to
   * refuse when root starts it; under systemd the unit's User= applies and the key is unused.
   * The checks are then made for the caller. */
  pw = geteuid() == 0 && name != NULL && name[0] != '\0' ? getpwnam(name) : NULL;
  if (pw == NULL) {
    w->self = 1;
    w->uid = geteuid();
    user_name(w->uid, w->name, sizeof(w->name));
    return;
  }
  w->uid = pw->pw_uid;
  w->ngroups = MAX_GROUPS;
  if (getgrouplist(pw->pw_name, pw->pw_gid, w->groups, &w->ngroups) < 0) {
    w->groups[0] = pw->pw_gid;
    w->ngroups = 1;
  }
  snprintf(w->name, sizeof(w->name), "%s", pw->pw_name);
}

/* Whether W may do WANT (R_OK, W_OK, X_OK bits) on PATH, whose status is ST. */
static int may(const struct who *w, const char *path, const struct stat *st, int want) {
  unsigned bits = (unsigned)want, mode = (unsigned)st->st_mode;
  int i;

  if (w->self)
    return access(path, want) == 0;
  if (w->uid == 0)
    return 1;
  if (st->st_uid == w->uid)
    return ((mode >> 6) & bits) == bits;
  for (i = 0; i < w->ngroups; i++)
    if (w->groups[i] == st->st_gid)
      return ((mode >> 3) & bits) == bits;
  return (mode & bits) == bits;
}

/* "belongs to user root (uid 0)" for a path W does not own, else "". */
static const char *owner_note(const struct who *w, const struct stat *st, char *buf, size_t len) {
  char owner[64];

  if (st->st_uid == w->uid) {
    buf[0] = '\0';
    return buf;
  }
  user_name(st->st_uid, owner, sizeof(owner));
  snprintf(buf, len, " (it belongs to user %s, uid %u)", owner, (unsigned)st->st_uid);
  return buf;
}

static int check_state_dir(const struct pw_config *conf, const struct who *w, char *err,
                           size_t errlen) {
  static const char *const inside[] = {
      "journal", "journal/journal.tsv", "rrd", "inbox", "spool", "lock", NULL};
  const char *dir = conf->daemon.state_dir;
  char *path = strdup(dir), note[160];
  struct stat st;
  int i, rc = 0;

  if (path == NULL)
    return -ENOMEM;
  /* The nearest existing directory: the state directory itself, or the parent it is made in. */
  while (stat(path, &st) != 0) {
    char *slash = strrchr(path, '/');
    /* ENOTDIR: a parent is a file, said below of the nearest existing path. */
    if ((errno != ENOENT && errno != ENOTDIR) || slash == NULL) {
      snprintf(err, errlen, "%s:%d: daemon.state_dir '%s': %s: %s", conf->daemon.cfg_file,
               conf->daemon.state_dir_line, dir, path, strerror(errno));
      free(path);
      return -EACCES;
    }
    if (slash == path)
      slash[1] = '\0';
    else
      *slash = '\0';
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s:%d: daemon.state_dir '%s': %s is not a directory",
             conf->daemon.cfg_file, conf->daemon.state_dir_line, dir, path);
    rc = -ENOTDIR;
  } else if (!may(w, path, &st, W_OK | X_OK)) {
    if (strcmp(path, dir) == 0 && st.st_uid != w->uid)
      snprintf(err, errlen,
               "%s:%d: daemon.state_dir '%s' is not writable by user %s%s; run chown -R %s: %s",
               conf->daemon.cfg_file, conf->daemon.state_dir_line, dir, w->name,
               owner_note(w, &st, note, sizeof(note)), w->name, dir);
    else if (strcmp(path, dir) == 0)
      snprintf(err, errlen, "%s:%d: daemon.state_dir '%s' is not writable by user %s",
               conf->daemon.cfg_file, conf->daemon.state_dir_line, dir, w->name);
    else
      snprintf(err, errlen,
               "%s:%d: daemon.state_dir '%s' cannot be created: %s is not writable by user %s",
               conf->daemon.cfg_file, conf->daemon.state_dir_line, dir, path, w->name);
    rc = -EACCES;
  }
  free(path);
  if (rc < 0)
    return rc;
  /* What a root-run command may have left behind: files of the state the daemon must write. */
  for (i = 0; inside[i]; i++) {
    char *p = pw_path_join(dir, inside[i]);
    if (p == NULL)
      return -ENOMEM;
    if (lstat(p, &st) == 0 && !may(w, p, &st, S_ISDIR(st.st_mode) ? W_OK | X_OK : W_OK)) {
      snprintf(err, errlen,
               "%s:%d: daemon.state_dir: %s is not writable by user %s%s; run chown -R %s: %s",
               conf->daemon.cfg_file, conf->daemon.state_dir_line, p, w->name,
               owner_note(w, &st, note, sizeof(note)), w->name, dir);
      free(p);
      return -EACCES;
    }
    free(p);
  }
  return 0;
}

/* Whether W can read the regular file PATH: 0, or a negative errno. */
static int readable(const struct who *w, const char *path) {
  struct stat st;
  int fd;

  if (stat(path, &st) != 0)
    return -errno;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  if (!S_ISREG(st.st_mode))
    return -EINVAL;
  if (!may(w, path, &st, R_OK))
    return -EACCES;
  /* Opening it too catches what mode bits do not say (a file system mounted without access). */
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  close(fd);
  return 0;
}

/* Why a file cannot be read by W, for a message. */
static const char *why(const struct who *w, int rc, char *buf, size_t len) {
  if (rc == -EACCES) {
    snprintf(buf, len, "cannot be read by user %s", w->name);
    return buf;
  }
  return rc == -EINVAL ? "not a regular file" : strerror(-rc);
}

int pw_preflight(const struct pw_config *conf, const struct pw_plugins *plugins, char *err,
                 size_t errlen) {
  struct who w;
  char b[96];
  int i, rc;

  rc = pw_plugins_failed(plugins, err, errlen);
  if (rc < 0)
    return rc;
  find_who(conf, &w);
  rc = check_state_dir(conf, &w, err, errlen);
  if (rc < 0)
    return rc;
  for (i = 0; i < conf->n_sources; i++) {
    const struct pw_source *s = &conf->sources[i];
    if (s->file != NULL && (rc = readable(&w, s->file)) < 0) {
      snprintf(err, errlen, "%s:%d: source '%s': file '%s': %s", s->cfg_file, s->url_line, s->id,
               s->file, why(&w, rc, b, sizeof(b)));
      return rc;
    }
    if (s->ca_file != NULL && s->ca_file[0] != '\0' && (rc = readable(&w, s->ca_file)) < 0) {
      snprintf(err, errlen, "%s:%d: source '%s': ca_file '%s': %s", s->cfg_file, s->ca_file_line,
               s->id, s->ca_file, why(&w, rc, b, sizeof(b)));
      return rc;
    }
  }
  for (i = 0; i < conf->n_receivers; i++) {
    const struct pw_receiver *r = &conf->receivers[i];
    if (r->ca_file != NULL && r->ca_file[0] != '\0' && (rc = readable(&w, r->ca_file)) < 0) {
      snprintf(err, errlen, "%s:%d: receiver '%s': ca_file '%s': %s", r->cfg_file, r->ca_file_line,
               r->id, r->ca_file, why(&w, rc, b, sizeof(b)));
      return rc;
    }
  }
  return 0;
}
