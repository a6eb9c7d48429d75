// Builds the `mvc ui` page (src/ui/) into dist/ui/: app.js and app.css bundled by esbuild with their
// libraries (Observable Plot, d3), and index.html. Run by `npm run build` (and so by `npm ci`); mvc
// serves these files itself, so the page needs nothing from the internet.
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'ui')
await mkdir(out, { recursive: true })
const result = await build({
  entryPoints: { app: join(root, 'src', 'ui', 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: out,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning'
})
await copyFile(join(root, 'src', 'ui', 'index.html'), join(out, 'index.html'))
const sizes = Object.entries(result.metafile.outputs).map(([f, o]) => `${f.split('/').pop()} ${(o.bytes / 1024).toFixed(0)} KiB`)
console.log(`ui: built ${sizes.join(', ')} in dist/ui/`)
