// Package ui is tapview's terminal interface: an exchanges list, a flows
// list, a detail pane and a status bar over a decode.Store, built on
// bubbletea v2. The CLI calls Run with a Config; everything the UI cannot
// know (filter compiler, masker, exporter, raw-byte reader) is injected as
// a function, so ui imports neither gopacket nor client-go.
//
// Decisions, so the next person does not have to rediscover them:
//
//   - Data flow. The UI never holds the traffic. It keeps counts, a cursor
//     per list and, when filtered, a sorted []int of matching store
//     positions. Each refresh reads only the visible rows (ExchangeRange),
//     so a frame costs the same with ten exchanges or a million.
//   - Bounded memory. The CLI's store (decode/store) keeps summaries of
//     final exchanges (Slim: no bodies, headers but Content-Type) and
//     evicts the oldest past a budget. Positions are absolute and Base is
//     the first one kept, so eviction never renumbers: the cursor moves up
//     by what was dropped and stays on its exchange, filter matches below
//     Base are dropped, and the status bar says "kept last N of M". The
//     detail, curl, export and filters on headers or bodies re-read the
//     whole exchange by ID in their commands; filters run their cheap
//     part on summaries first and show a percentage while re-reading.
//     An opened exchange is pinned: it stays whole when the list moves on.
//   - Wake-ups. A command blocks on Store.Changed; after each refresh the
//     next wait is armed 100 ms later, so the store is read at most ten
//     times a second and bursts coalesce in the store's one-slot channel.
//     The spinner ticks only while a file is loading or work is running;
//     an idle screen schedules nothing.
//   - Filtering. A new filter runs over a snapshot in a command (in
//     parallel when the Matcher has MatchAll) while the old result stays
//     on screen. Later arrivals are filtered incrementally, and exchanges
//     that were still pending are re-checked when they change, because
//     "status >= 500" cannot be decided before the response.
//   - Masking is on by default and applies only to what is drawn: list
//     rows mask a body-less copy (cheap at any body size) cached by ID and
//     version, the detail masks the one exchange it shows, curl copies and
//     exports are masked unless the user unmasked. An unmasked screen says
//     UNMASKED in reverse red, and the status bar never drops it. The raw
//     tab shows bytes as captured only when unmasked.
//   - Update does no I/O. Detail content (masking, decompression, pretty
//     printing, raw reads), filter passes, curl building and export are
//     commands; stale results are recognised by a key and dropped.
//   - Safety. Every string that came from the wire goes through
//     view.Sanitize before it is drawn: escape sequences, C0/C1 controls,
//     bidi overrides and invalid UTF-8 become visible \x1b-style text.
//   - Layout. Header (panes and counts), list or detail, an optional
//     loading line, and one status bar. Below 120x36 the detail is full
//     screen; at that size and above it opens under the list and follows
//     the cursor, which J/K (or the mouse wheel over the list) move.
//   - Look. The 16 ANSI colours only, so the terminal theme decides; the
//     cursor row is reverse video. Only the status cell is coloured by
//     class (2xx green, 3xx cyan, 4xx yellow, 5xx red), except broken
//     exchanges (whole row red) and pending ones (whole row dim), so the
//     list stays calm and failures still jump out.
//   - Columns. Lists are tables of fixed and flexible columns; on narrow
//     screens the least useful columns (type, size, latency, time) go
//     before the URL or the endpoints get too narrow, and on very wide
//     screens the URL column stops growing. The source column appears
//     with several sources or at 140 columns and up.
//   - Sources speak through the status bar: one source by name and state
//     (spinner and percent while reading, ✓ when done, ● live), several
//     by count; the latest warning shows its kind (⚠ truncated,
//     ⚠ CONGESTED) and, when there is room, its message. Drops are
//     summed over sources.
//   - Keys live in one keyMap; Update matches against it and the help
//     screen is generated from it. "/" filters a list and searches the
//     detail; n/N step through search matches in the detail. q goes
//     back and quits only from the list, Q and ctrl+c quit anywhere (as
//     in mitmproxy).
//   - Views. Each view is a small model with its own state; the root
//     Model routes keys and results to the one in front and draws it,
//     and keeps only what views share: the store, each pane's filter
//     index and sort, marks, masking, the screen size, the status bar.
//     The two lists (listView) and the detail (detailView, which shares
//     the screen with the list at 120x36 and up) have Update and View
//     methods; help, notes, the bytes of a flow, the stats view and the
//     external lens are overlays behind a three-method interface
//     (views.go) drawn in place of the lists. Views are handed the root
//     to read the shared state, as in soft-serve's and crush's common
//     context, rather than a copy that could go stale.
//   - Sorting is a permutation of the shown store positions built over
//     summaries in a command, like a filter pass, and rebuilt when the
//     list grows; marks are IDs, so they survive sorting, filtering and
//     eviction, and x exports only them while any are set.
//   - Bytes. The UI decodes no packets: a StreamReader from the CLI
//     reads a flow's packets again from its capture by ordinal (frame
//     numbers match Wireshark) and the view only lays them out.
//   - Messages. A status message too long for the bar is shown whole on
//     lines above it; errors and export results are also kept as notes
//     (key E) next to the sources' warnings.
//   - Service mesh. With a sidecar, the CLI gives two stores: Store shows
//     each request once (the app leg; network-leg duplicates left out by
//     decode/mesh) and Both has both legs; b swaps them, and since list
//     positions differ the cursors start over and filters run again. The
//     UI wakes on Both's signal, which sees every change. Key 3 shows the
//     external lens (destinations outside the cluster, read from an
//     ExternalReader in a command on each refresh); both keys are
//     disabled, and absent from help, when the CLI gives no source.
//   - The prompt is a small line editor using the real terminal cursor:
//     no blink timer, so the screen is still between keystrokes.
package ui
