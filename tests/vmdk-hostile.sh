#!/usr/bin/env bash
. "$VMI_SRC/tests/lib.sh"
finish
