# The front door. `make lab` builds a lab cluster of containers and runs site.yml on it;
# `make test` runs every test. Both set up what they need first (see scripts/setup).
SHELL := /bin/bash
MASTERS ?= 3
SLAVES ?= 2
STAGES ?=

.PHONY: help setup images repo lab lab-destroy ha-check test lint

help:
	@echo "make lab           set up, build images, create the lab ($(MASTERS) masters, $(SLAVES) slaves), run site.yml and the HA check"
	@echo "make lab-destroy   remove the lab's containers and network"
	@echo "make ha-check      run the HA check against the running lab"
	@echo "make test          run every test (STAGES='lint unit ...' for some)"
	@echo "make setup         create .venv and install host packages only"

setup:
	@scripts/setup

images: setup
	@tests/images/build

repo: setup
	@tests/standins/packaging/build

lab: images repo
	@scripts/lab up --masters $(MASTERS) --slaves $(SLAVES)

lab-destroy: setup
	@scripts/lab down

ha-check: setup
	@scripts/lab check

test: images repo
	@scripts/test $(STAGES)

lint: setup
	@scripts/test lint
