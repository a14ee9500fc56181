import { type Column, is, type SQL } from 'drizzle-orm'
import { PgDialect, PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core'
import { SQLiteSyncDialect, SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core'
import { expect, test } from 'vitest'
import * as pgSchema from './postgres/schema.js'
import * as sqliteSchema from './sqlite/schema.js'

/** Column kinds the two dialects spell differently, in one small vocabulary. */
const KINDS: Record<string, string> = {
  SQLiteText: 'text',
  SQLiteInteger: 'integer',
  SQLiteTextJson: 'json',
  SQLiteBoolean: 'boolean',
  PgText: 'text',
  PgInteger: 'integer',
  PgBigInt53: 'integer',
  PgJsonb: 'json',
  PgJson: 'json',
  PgBoolean: 'boolean',
}

const kind = (column: Column) => {
  const found = KINDS[column.columnType]
  if (!found) throw new Error(`no common kind for ${column.name}: ${column.columnType}`)
  return found
}

const describeColumn = (column: Column) => ({
  kind: kind(column),
  notNull: column.notNull,
  primary: column.primary,
  unique: column.isUnique ? column.uniqueName : null,
  default: column.default ?? null,
  enum: column.enumValues ?? null,
})

type Config = ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>

/** One table as both dialects can state it; `where` is the partial index's condition as SQL text. */
const describeTable = (config: Config, sqlOf: (where: SQL) => string) => ({
  columns: Object.fromEntries(config.columns.map((c) => [c.name, describeColumn(c)])),
  primaryKeys: config.primaryKeys.map((pk) => pk.columns.map((c) => c.name)),
  uniqueConstraints: config.uniqueConstraints.map((u) => ({ name: u.name, columns: u.columns.map((c) => c.name) })),
  indexes: config.indexes
    .map(({ config: i }) => ({
      name: i.name,
      unique: i.unique,
      columns: i.columns.map((c) => (c as Column).name),
      where: i.where ? sqlOf(i.where) : null,
    }))
    .sort((a, b) => String(a.name).localeCompare(String(b.name))),
  foreignKeys: config.foreignKeys.map((fk) => {
    const ref = fk.reference()
    return {
      columns: ref.columns.map((c) => c.name),
      foreignColumns: ref.foreignColumns.map((c) => c.name),
      onDelete: fk.onDelete ?? null,
    }
  }),
})

const sqliteDialect = new SQLiteSyncDialect()
const pgDialect = new PgDialect()

const sqliteTables = Object.fromEntries(
  Object.values(sqliteSchema)
    .filter((t) => is(t, SQLiteTable))
    .map((t) => sqliteTableConfig(t))
    .map((c) => [c.name, describeTable(c, (where) => sqliteDialect.sqlToQuery(where).sql)]),
)
const pgTables = Object.fromEntries(
  Object.values(pgSchema)
    .filter((t) => is(t, PgTable))
    .map((t) => pgTableConfig(t))
    .map((c) => [c.name, describeTable(c, (where) => pgDialect.sqlToQuery(where).sql)]),
)

test('both schemas declare the same tables', () => {
  expect(Object.keys(pgTables).sort()).toEqual(Object.keys(sqliteTables).sort())
  expect(Object.keys(sqliteTables)).toHaveLength(10)
})

test.each(Object.keys(sqliteTables))('%s: same columns, kinds, nullability, keys, indexes and constraints', (name) => {
  expect(pgTables[name]).toEqual(sqliteTables[name])
})
