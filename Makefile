# Red Door — the two commands a newcomer needs are `make run` and `make test`.
# Both set up everything that is missing first (system packages, a venv, the project).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
# Debian packages the project needs at run time and in tests:
#  softhsm2 (practice HSM), opensc (pkcs11-tool, independent token listing in tests),
#  poppler-utils (pdftotext/pdftoppm for receipt and report tests), Qt offscreen libraries,
#  DejaVu fonts (embedded in every PDF), cups-client (lp for printing), zbar-tools (zbarimg
#  decodes receipt QR codes in tests), libgs-common (its sRGB ICC profile for PDF/A output).
# Qt's xcb platform plugin (a desktop session) needs the libxcb-* libraries too.
APT_PACKAGES := softhsm2 opensc poppler-utils zbar-tools libgs-common libegl1 libgl1 libxkbcommon0 \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-randr0 \
	libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core cups-client
# systemd-analyze (verify, security --offline) for tests/packaging/test_systemd_units.py
APT_PACKAGES += systemd
SCREENSHOT_PACKAGES := xvfb imagemagick xauth
# The kiosk station tests (tests/packaging/test_kiosk_station.py): the session under Xvfb
# (xwininfo/xprop from x11-utils, ImageMagick's import), cage for `systemd-analyze verify` of
# its unit, udevadm (udev) to run the udev rules against a loop device.
KIOSK_TEST_PACKAGES := $(SCREENSHOT_PACKAGES) x11-utils cage udev systemd e2fsprogs
# The application on a 1024x768 X screen with a window manager as well as without
# (tests/app/gui/test_screen_xvfb.py): openbox, a small one.
WM_TEST_PACKAGES := openbox
# promtool (`check rules`, `test rules`) for tests/packaging/test_prometheus_rules.py: Debian has
# no package of its own for it, only the prometheus server's. On a host whose init is systemd
# that package also starts prometheus.service (port 9090); `systemctl disable --now prometheus`.
# node_exporter serves the ceremony's metrics textfile in tests/acceptance/test_ceremony_metrics.py
# (on systemd hosts it, too, starts a service: prometheus-node-exporter, port 9100).
PROMETHEUS_TEST_PACKAGES := prometheus prometheus-node-exporter

# Building and checking the .deb (tests/packaging, `make deb`): dpkg-dev, lintian, and the
# package's Depends that APT_PACKAGES lacks (Qt's wayland platform plugin, for the kiosk), so
# that `dpkg -i` of the built package succeeds.
DEB_PACKAGES := dpkg-dev lintian xz-utils adduser libwayland-client0 libwayland-cursor0 \
	libwayland-egl1
# `make deb`: xz level 6 (the smallest; DEB_LEVEL=1 packs in seconds instead of minutes).
DEB_LEVEL ?= 6

.PHONY: run test test-fast lint bench screenshots setup system-packages test-packages deb clean

setup: $(STAMP)

system-packages: $(SYSTEM_STAMP)

$(SYSTEM_STAMP): Makefile
	@missing=""; for p in $(APT_PACKAGES) $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -m venv --help >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: need root to install:$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml $(SYSTEM_STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# Packages only the tests need (root installs them; without root the tests that need them skip).
test-packages: $(SYSTEM_STAMP)
	@missing=""; for p in $(KIOSK_TEST_PACKAGES) $(WM_TEST_PACKAGES) $(PROMETHEUS_TEST_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "note: not root, tests needing$$missing will skip" >&2; \
	  else echo "Installing test packages:$$missing"; export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi; \
	fi

run: setup
	$(BIN)/reddoor

# Two workers (pytest-xdist), each test file on one worker: most tests wait on real processes
# (routers, gateways, bridges, SoftHSM), so two workers on two cores take ~12 min instead of ~17.
test: setup test-packages
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

test-fast: setup test-packages
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check app ceremony custody resources packaging tests
	$(BIN)/ruff format --check app ceremony custody resources packaging tests
	$(BIN)/mypy ceremony custody

bench: setup
	QT_QPA_PLATFORM=offscreen BENCH="$(BENCH)" $(BIN)/python -m tests.benchmarks.run

screenshots: setup
	@for p in $(SCREENSHOT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || \
	  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $(SCREENSHOT_PACKAGES) >/dev/null); done
	$(BIN)/python -m tests.screenshots

# dist/reddoor_<version>_<arch>.deb (packaging/README.md)
deb: setup
	$(BIN)/python packaging/build_deb.py --out dist --compression xz --level $(DEB_LEVEL)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
