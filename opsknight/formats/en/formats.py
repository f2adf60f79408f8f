"""Every time the admin shows (lists, read-only fields, the timeline) with seconds and the zone,
`2026-11-29 21:33:05 UTC`, instead of English's `Nov. 29, 2026, 9:33 p.m.`: events a few
seconds apart read apart, and nobody guesses the zone. Dates alone keep Django's format."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
