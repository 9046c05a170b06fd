#!/bin/sh
# Compiles the apps with the project's TypeScript and assembles one of them, as its image
# runs it, in OUT: the compiled JavaScript of shared/ and of the app, the other files of
# their sources that the code reads at run time (tsc emits JavaScript only), and main.js,
# which starts the app. Run from the repository root:
#
#   sh deploy/build-app.sh order-processor|checkout OUT
#
# deploy/Dockerfile's build stage runs it; so does test/deploy, to replay the build.
set -eu
app=$1 out=$2
case "$app" in
  order-processor) dir=subscriber entry=subscriber/src/server.js ;;
  checkout) dir=publisher entry=publisher/src/main.js ;;
  *) echo "APP must be order-processor or checkout, not '$app'" >&2; exit 1 ;;
esac
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

compiled=$(mktemp -d)
trap 'rm -rf "$compiled"' EXIT
# Type errors fail the build, as they fail `npm test`.
node_modules/.bin/tsc -p deploy/tsconfig.build.json --outDir "$compiled"

for src in shared "$dir/src"; do
  mkdir -p "$out/$src"
  cp -R "$compiled/$src/." "$out/$src/"
  (cd "$src" && find . -type f ! -name '*.ts' | tar -cf - -T -) | (cd "$out/$src" && tar -xf -)
done
printf "import './%s'\n" "$entry" > "$out/main.js"
