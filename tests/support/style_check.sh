#!/usr/bin/env bash
# Style checks run by the test suite: no banned string functions, and clang-format clean (one
# clang-format call for every file).
set -u
top=${1:-.}
cd "$top" || exit 1
rc=0
mapfile -t files < <(find daemon plugins graphs tests -name '*.[ch]' 2>/dev/null | sort)
banned=$(grep -nE '\b(strcpy|strcat|sprintf|strtok|atoi|gets)\s*\(' "${files[@]}" 2>/dev/null)
if [ -n "$banned" ]; then
  echo "banned functions (use snprintf, pw_strlcpy, strtol...):"
  echo "$banned"
  rc=1
fi
if command -v clang-format >/dev/null 2>&1; then
  out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1)
  if [ -n "$out" ]; then
    echo "not clang-format clean (run clang-format -i on the files named):"
    echo "$out" | grep -oE '^[^:]+\.[ch]:' | sort -u | sed 's/:$//'
    rc=1
  fi
else
  echo "clang-format not installed; formatting not checked"
fi
[ $rc -eq 0 ] && echo "style: ok"
exit $rc
