/** The dashboard's stylesheet (decisions.md §3.10), served as `/dashboard/app.css`. */
export const DASHBOARD_CSS = `:root {
  color-scheme: light dark;
  --fg: #1b1f24; --muted: #5b6470; --bg: #ffffff; --panel: #f4f6f8; --line: #d5dae0;
  --accent: #2458d6; --ok: #17753a; --warn: #9a5b00; --bad: #b3261e;
  font: 15px/1.45 system-ui, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ed; --muted: #9aa4af; --bg: #14171b; --panel: #1e2329; --line: #333a42;
    --accent: #7ea2ff; --ok: #5fd08a; --warn: #f0b35a; --bad: #ff8a80; }
}
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem;
  border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
.brand { font-weight: 700; margin: 0; }
nav { display: flex; align-items: center; gap: .8rem; flex-wrap: wrap; flex: 1; }
nav[hidden] { display: none; }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0 auto 0 0; padding: 0; }
nav a { color: var(--accent); text-decoration: none; padding: .2rem 0; }
nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
main { padding: 1rem 1.2rem 2rem; max-width: 72rem; }
main:focus { outline: none; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); padding-bottom: .4rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
thead th { font-size: .85rem; color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em;
  overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.error { color: var(--bad); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .85em;
  border: 1px solid currentColor; white-space: nowrap; }
.status-ready, .state-ready { color: var(--ok); }
.status-scheduled, .status-loading, .status-starting, .status-waiting, .state-draining {
  color: var(--warn); }
.status-terminating, .status-hard-terminating, .status-terminated, .state-not-ready {
  color: var(--muted); }
button, input, select { font: inherit; color: inherit; }
button { padding: .3rem .8rem; border: 1px solid var(--line); border-radius: .3rem;
  background: var(--panel); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
button.danger { color: var(--bad); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
input, select { padding: .3rem .45rem; border: 1px solid var(--line); border-radius: .3rem;
  background: var(--bg); }
form#login { display: grid; gap: .5rem; max-width: 22rem; margin-top: 2rem; }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: .6rem; }
.filters div { display: grid; gap: .2rem; }
.filters label { font-size: .85rem; color: var(--muted); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.actions { display: flex; gap: .6rem; margin-top: .8rem; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1.5rem; }
.history { margin: 0; padding-left: 1.4rem; }
.history li { margin: .15rem 0; }
.logs { list-style: none; margin: 0; padding: .5rem; background: var(--panel);
  border: 1px solid var(--line); border-radius: .3rem; max-height: 20rem; overflow: auto;
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.logs li.stderr { color: var(--bad); }
.logs time { color: var(--muted); }
.chart { margin: 0 0 .8rem; }
.chart svg { width: 100%; max-width: 320px; height: 60px; background: var(--panel);
  border: 1px solid var(--line); display: block; }
.chart .line { stroke: var(--accent); stroke-width: 1.5; }
.chart .dot { fill: var(--accent); }
.chart figcaption { font-size: .85rem; color: var(--muted); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: .5rem; top: .5rem; background: var(--bg); padding: .3rem; z-index: 1; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip-path: inset(50%); white-space: nowrap; }
`;
