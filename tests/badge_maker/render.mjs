// Renders badges with shields' own renderer (badge-maker) for the width check in
// tests/integration/api/test_badge_widths.py.
// Usage: node render.mjs <directory holding node_modules>  < cases.json  > svgs.json
// cases.json: [{"label", "message", "style", "labelColor"?, "color"?}, ...]; the answer is the
// list of SVG documents in the same order.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = process.argv[2]
const { makeBadge } = await import(pathToFileURL(join(root, 'node_modules', 'badge-maker', 'lib', 'index.js')).href)
const cases = JSON.parse(readFileSync(0, 'utf8'))
process.stdout.write(JSON.stringify(cases.map((c) => makeBadge(c))))
