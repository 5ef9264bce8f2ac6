#!/usr/bin/env node
// Validates HAR files against the HAR 1.2 JSON schema (har-schema, via
// har-validator) for tapview's export tests. Usage: node validate.js FILE...
// Prints "ok FILE: N entries" per valid file; on the first invalid file it
// prints the schema errors (JSON path and message) and exits 1.
'use strict'

const fs = require('fs')
const validator = require('har-validator')

async function check (file) {
  let data
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    throw new Error(`${file}: not JSON: ${err.message}`)
  }
  try {
    await validator.har(data)
  } catch (err) {
    const details = (err.errors || []).map(e => `  ${e.dataPath || '(root)'}: ${e.message}`).join('\n')
    throw new Error(`${file}: not valid HAR 1.2:\n${details || err.message}`)
  }
  const n = data.log.entries.length
  console.log(`ok ${file}: ${n} entries`)
}

async function main () {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    console.error('usage: node validate.js FILE.har...')
    process.exit(2)
  }
  for (const f of files) {
    await check(f)
  }
}

main().catch(err => {
  console.error(err.message)
  process.exit(1)
})
