#!/usr/bin/env bash
# Style checks run by the test suite: no banned string functions, and clang-format clean.
set -u
top=${1:-.}
cd "$top" || exit 1
rc=0
files=$(find daemon plugins graphs tests -name '*.[ch]' 2>/dev/null | sort)
banned=$(grep -nE '\b(strcpy|strcat|sprintf|strtok|atoi|gets)\s*\(' $files 2>/dev/null)
if [ -n "$banned" ]; then
  echo "banned functions (use snprintf, pw_strlcpy, strtol...):"
  echo "$banned"
  rc=1
fi
if command -v clang-format >/dev/null 2>&1; then
  for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "not clang-format clean: $f (run clang-format -i $f)"
      rc=1
    fi
  done
else
  echo "clang-format not installed; formatting not checked"
fi
[ $rc -eq 0 ] && echo "style: ok"
exit $rc
