// Parses an AsyncAPI document with the AsyncAPI Initiative's own parser (and its Avro
// schema parser, so the Avro payloads are checked as Avro) and prints its diagnostics as
// one JSON array: [{severity, code, message, path}], severity 0 error .. 3 hint.
// Usage: node asyncapi.mjs DOCUMENT.json
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";
import { AvroSchemaParser } from "@asyncapi/avro-schema-parser";

const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
const found = diagnostics.map(({ severity, code, message, path }) => ({
  severity,
  code,
  message,
  path: path.join("/"),
}));
if (document === undefined && !found.some((d) => d.severity === 0)) {
  found.push({ severity: 0, code: "unparsed", message: "no document", path: "" });
}
process.stdout.write(JSON.stringify(found) + "\n");
