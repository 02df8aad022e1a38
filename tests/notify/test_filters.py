"""A target's filter: species, score, new today, rate limit; whole sightings only."""

from __future__ import annotations

import dataclasses
from datetime import date

from fieldtool.notify import FilterConfig, TargetFilter

from .test_webhook import sighting_notice


def notice(kind, sid, species="Acer rubrum", peak=0.9):
    return dataclasses.replace(sighting_notice(kind, species, peak), sighting_id=sid)


def test_species_lists_match_any_spelling_and_events_are_chosen():
    f = TargetFilter(FilterConfig(include=["ACER RUBRUM L."], events=["start", "review"]))
    assert f.admits(notice("start", "a"))
    assert not f.admits(notice("end", "a"))  # end events not asked for
    assert not f.admits(notice("start", "b", "Quercus alba"))
    assert f.admits(notice("review", "a"))
    g = TargetFilter(FilterConfig(exclude=["quercus alba"]))
    assert not g.admits(notice("start", "c", "Quercus alba"))
    assert g.admits(notice("start", "d"))
    assert g.held_back == 1


def test_min_score_is_the_peak_a_start_held_back_for_it_may_still_end():
    f = TargetFilter(FilterConfig(min_score=0.8))
    assert not f.admits(notice("start", "a", peak=0.6))
    assert f.admits(notice("end", "a", peak=0.85))
    assert not f.admits(notice("end", "b", peak=0.7))


def test_new_today_only_sends_a_species_first_sighting_of_the_day_and_holds_its_end():
    day = [date(2026, 5, 1)]
    f = TargetFilter(FilterConfig(new_today_only=True), seen_today=["Quercus alba"],
                     today=lambda: day[0])  # fmt: skip
    assert not f.admits(notice("start", "q", "Quercus alba"))  # in the store already
    assert f.admits(notice("start", "a"))
    assert f.admits(notice("end", "a"))
    assert not f.admits(notice("start", "b"))
    assert not f.admits(notice("end", "b"))  # a held-back sighting stays held back
    day[0] = date(2026, 5, 2)
    assert f.admits(notice("start", "c"))  # a new day


def test_rate_limit_per_species_with_an_injected_clock():
    now = [100.0]
    f = TargetFilter(FilterConfig(rate_limit_s=60), clock=lambda: now[0])
    assert f.admits(notice("start", "a"))
    now[0] = 130.0
    assert not f.admits(notice("start", "b"))
    assert f.admits(notice("start", "c", "Quercus alba"))  # another species: its own limit
    now[0] = 161.0
    assert f.admits(notice("start", "d"))
    assert f.admits(notice("end", "a")) and not f.admits(notice("end", "b"))
