#!/bin/bash
# Builds the Kubernetes server binaries and the pause binary from Debian's
# `kubernetes` source package, offline, with Debian's Go 1.19.
#   build.sh ensure     build unless $CACHE/<source version>/bin exists;
#                       writes the version to $CACHE/current
#   build.sh compile SRC_DIR OUT_DIR VERSION
source "$(dirname "$0")/lib.sh"

enable_deb_src() {
  local changed=0 f
  # deb822 files: add the deb-src type to the existing Types lines, so the
  # machine's own mirrors serve the sources.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    if grep -qE '^Types:' "$f" && grep -E '^Types:' "$f" | grep -qvw deb-src; then
      sed -i -E '/^Types:/{/deb-src/!s/$/ deb-src/}' "$f"
      changed=1
    fi
  done
  # One-line sources: a deb-src twin of each deb line.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    if grep -qE '^deb ' "$f" && ! grep -qE '^deb-src ' "$f"; then
      sed -i -E 's/^deb (.*)$/deb \1\ndeb-src \1/' "$f"
      changed=1
    fi
  done
  if ((changed)) || [[ -z $(source_version) ]]; then
    apt-get update -q >/dev/null
  fi
}

ensure() {
  enable_deb_src
  local version
  version=$(source_version)
  [[ -n $version ]] || { echo "error: apt has no source package 'kubernetes' after enabling deb-src" >&2; exit 1; }
  local out=$CACHE/$version/bin
  if [[ -x $out/kubelet && -x $out/pause ]]; then
    echo "  cached: $out"
  else
    local missing=() p
    for p in "${BUILD_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    local work=$CACHE/$version/work
    rm -rf "$work"
    mkdir -p "$work"
    (cd "$work" && apt-get source -q "kubernetes=$version" >"$work/../source.log" 2>&1) ||
      { echo "error: apt-get source kubernetes=$version failed; see $CACHE/$version/source.log" >&2; exit 1; }
    local src
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
    echo "  building $version from $src (several minutes; log: $CACHE/$version/build.log)"
    GOCACHE=$CACHE/$version/gocache compile "$src" "$out" "$version" >"$CACHE/$version/build.log" 2>&1 ||
      { tail -20 "$CACHE/$version/build.log" >&2; echo "error: build failed; see $CACHE/$version/build.log" >&2; exit 1; }
    rm -rf "$work" "$CACHE/$version/gocache"
  fi
  echo "$version" >"$CACHE/current"
}

compile() {
src=$1 out=$2 version=$3
cd "$src" || exit 1
# The vendored reflect2 1.0.1 reads runtime internals that changed in Go 1.18
# and crashes at run time; Debian's 1.0.2 knows both layouts. The module path
# stays the same, so vendor/modules.txt needs no change.
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
rsync -a --delete --exclude go.mod "$reflect2/" vendor/github.com/modern-go/reflect2/

# Kubernetes 1.20 builds in GOPATH mode, as its own hack/lib/init.sh does: its
# go.mod is not complete enough for module mode with -mod=vendor under Go 1.19.
# In GOPATH mode vendor/ is used implicitly and nothing is ever fetched.
export PATH=/usr/lib/go-1.19/bin:$PATH
export GOPROXY=off GOFLAGS='' GO111MODULE=off CGO_ENABLED=0
export GOPATH=$src/.gopath GOCACHE=${GOCACHE:-$(dirname "$out")/gocache} HOME=${HOME:-/root}
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$src" "$GOPATH/src/k8s.io/kubernetes"

# Without these the components report v0.0.0-master, which Helm's and
# kubectl's version checks reject.
upstream=${version%%-*}           # 1.20.5+really1.20.2-1.1+deb12u1 -> 1.20.5+really1.20.2
upstream=${upstream##*really}     # -> 1.20.2
git_version=v$upstream
major=${git_version#v}; major=${major%%.*}
minor=${git_version#v*.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$git_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ldflags+=" -X $pkg.gitCommit=debian-$version"
done

# The API server's OpenAPI definitions are generated at build time (upstream's
# Makefile.generated_files, gen_openapi); the other generated code ships in
# the source. Input: every package with a +k8s:openapi-gen= tag, staging
# named through vendor/, as the Makefile names them.
openapi=pkg/generated/openapi/zz_generated.openapi.go
if [[ ! -f $openapi ]]; then
  go build -o "$GOPATH/bin/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
  inputs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 |
    xargs -0 grep -lZ '^// *+k8s:' | xargs -0 grep -l '+k8s:openapi-gen=' |
    sed -e 's|^\./staging/src|vendor|' -e 's|^\./||' -e 's|/[^/]*$||' |
    grep -vE '^vendor/k8s.io/(code-generator|sample-apiserver)/' | LC_ALL=C sort -u |
    sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
  (cd "$GOPATH/src/k8s.io/kubernetes" && "$GOPATH/bin/openapi-gen" --logtostderr \
    -i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$GOPATH/openapi-violations.report")
fi

mkdir -p "$out.tmp"
go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl

gcc -Os -static -DVERSION="$git_version" -o "$out.tmp/pause" build/pause/linux/pause.c
strip "$out.tmp/pause"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "built $git_version into $out"
}

case ${1:-} in
  ensure) ensure ;;
  compile) shift; compile "$@" ;;
  *) echo "usage: build.sh ensure | compile SRC OUT VERSION" >&2; exit 2 ;;
esac
