/**
 * Checks real HTTP responses against the service's own OpenAPI document: the operation that
 * answered (by method and path template), the status (documented, or 500 under `default`), the
 * media type, the JSON body against the documented schema (Ajv, JSON Schema 2020-12, the
 * document's own `components`), and an error's `code` among the codes the document lists for
 * that operation and status.
 */
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** The parts of an OpenAPI 3.1 document the checker reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown> };
  [key: string]: unknown;
}

interface OpenApiOperation {
  operationId: string;
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
  [key: string]: unknown;
}

/** What a checked response was: its operation (or `null` for a path no operation has) and status. */
export interface Checked {
  operationId: string | null;
  status: number;
}

const DOC_ID = "https://service.invalid/openapi.json";

function mediaMatches(documented: string, actual: string): boolean {
  const [type, subtype] = documented.split("/");
  const [actualType, actualSubtype] = actual.split(";")[0]!.trim().toLowerCase().split("/");
  return type === actualType && (subtype === "*" || subtype === actualSubtype);
}

/**
 * A checker over `doc`. `check` throws an Error naming the operation, status and what does not
 * match; on success it returns which operation and status it was.
 *
 * @example
 * const contract = contractChecker(await (await fetch(`${url}/openapi.json`)).json());
 * await contract.check("GET", `${url}/api/images`, await fetch(`${url}/api/images`));
 */
export function contractChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addFormat("binary", true); // a multipart file part; bodies checked here are JSON
  ajv.addKeyword({ keyword: "components" });
  ajv.addSchema({ $id: DOC_ID, components: doc.components });
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (schema: unknown) => {
    const key = JSON.stringify(schema);
    let validate = validators.get(key);
    if (!validate) {
      // Component `$ref`s are relative to the document; resolve them against its id.
      validate = ajv.compile(JSON.parse(key.replaceAll('"#/components/', `"${DOC_ID}#/components/`)));
      validators.set(key, validate);
    }
    return validate;
  };
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
  }));

  return {
    /** Compiles every component schema (Ajv strict: an unknown keyword or a bad type throws). */
    compileAll(): void {
      for (const name of Object.keys(doc.components.schemas)) validatorFor({ $ref: `#/components/schemas/${name}` });
    },

    /** The operation a method and path would reach, if any. */
    operation(method: string, path: string): OpenApiOperation | undefined {
      const found = templates.find((t) => t.pattern.test(path));
      return found ? doc.paths[found.template]?.[method.toLowerCase()] : undefined;
    },

    async check(method: string, url: string, response: Response): Promise<Checked> {
      const path = new URL(url).pathname;
      const operation = this.operation(method, path);
      const where = `${method} ${path} → ${response.status}`;
      const type = response.headers.get("content-type") ?? "";
      if (!operation) {
        // Not an operation: the router's own 404/405, in the error shape.
        if (response.status !== 404 && response.status !== 405) throw new Error(`${where}: no operation in the document for this path`);
        const validate = validatorFor({ $ref: "#/components/schemas/Error" });
        if (!validate(await response.clone().json())) throw new Error(`${where}: ${ajv.errorsText(validate.errors)}`);
        return { operationId: null, status: response.status };
      }
      const documented = operation.responses[String(response.status)] ?? (response.status === 500 ? operation.responses.default : undefined);
      if (!documented) {
        throw new Error(`${where}: ${operation.operationId} documents only ${Object.keys(operation.responses).join(", ")}`);
      }
      const media = Object.keys(documented.content ?? {});
      if (media.length > 0) {
        const matched = media.find((m) => mediaMatches(m, type));
        if (!matched) throw new Error(`${where}: Content-Type ${type || "(none)"}, documented ${media.join(", ")}`);
        const schema = documented.content![matched]!.schema;
        if (schema !== undefined) {
          const body = await response.clone().json();
          const validate = validatorFor(schema);
          if (!validate(body)) throw new Error(`${where}: body does not match ${JSON.stringify(schema)}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 600)}`);
          const code = (body as { error?: { code?: string } }).error?.code;
          if (response.status >= 400 && code !== undefined && !documented.description.includes(`\`${code}\``)) {
            throw new Error(`${where}: error code ${code} is not listed for ${operation.operationId} ${response.status}: ${documented.description}`);
          }
        }
      } else if (response.status !== 302 && (await response.clone().arrayBuffer()).byteLength > 0) {
        throw new Error(`${where}: a body where the document has none`);
      }
      return { operationId: operation.operationId, status: response.status };
    },
  };
}
