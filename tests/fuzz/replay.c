/*
 * replay.c: the main of a fuzz target in the normal build (no libFuzzer, any compiler). Each
 * argument is a corpus directory, whose regular files are run in name order, or a single file;
 * arguments starting with '-' (libFuzzer's options, such as -runs=0) are ignored, so ctest
 * passes the same command line to both builds. Each input is handed over in a buffer of exactly
 * its size, so that AddressSanitizer sees a read past its end. Exits 0 when every input ran,
 * 1 when none was found or a file cannot be read; a finding aborts in the target.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Optional in a target: the replay calls it when the target defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *data = NULL;
  size_t size = 0, cap = 0;

  if (f == NULL) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  for (;;) {
    if (size == cap) {
      unsigned char *p;
      cap = cap ? cap * 2 : 4096;
      p = realloc(data, cap);
      if (p == NULL) {
        free(data);
        fclose(f);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
      }
      data = p;
    }
    size_t n = fread(data + size, 1, cap - size, f);
    size += n;
    if (n == 0)
      break;
  }
  if (ferror(f)) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(data);
    fclose(f);
    return -1;
  }
  fclose(f);
  /* An exact-size copy: the reading buffer has slack after the input. */
  unsigned char *exact = malloc(size ? size : 1);
  if (exact == NULL) {
    free(data);
    return -1;
  }
  if (size > 0)
    memcpy(exact, data, size);
  free(data);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files of DIR in name order. Returns how many ran, or -1. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0, i;
  long ran = 0;

  if (d == NULL) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **p;
      cap = cap ? cap * 2 : 64;
      p = realloc(names, cap * sizeof(*names));
      if (p == NULL)
        break;
      names = p;
    }
    names[n] = strdup(e->d_name);
    if (names[n] != NULL)
      n++;
  }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof(*names), by_name);
  for (i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path) < 0)
        ran = -1;
      else if (ran >= 0)
        ran++;
    }
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  long total = 0;
  int i, failed = 0;

  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  for (i = 1; i < argc; i++) {
    struct stat st;
    long ran;
    if (argv[i][0] == '-')
      continue;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      failed = 1;
      continue;
    }
    if (S_ISDIR(st.st_mode))
      ran = run_dir(argv[i]);
    else
      ran = run_file(argv[i]) < 0 ? -1 : 1;
    if (ran < 0)
      failed = 1;
    else
      total += ran;
  }
  printf("replay: %ld inputs ran\n", total);
  if (total == 0) {
    fprintf(stderr, "replay: no input found\n");
    return 1;
  }
  return failed;
}
