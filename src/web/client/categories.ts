/**
 * The categories in use, from `GET /api/categories`, in the page's category fields: the search
 * filter (`#category`, with counts) and the suggestions of the upload and generate fields
 * (`#categories`). The page works without them: the filter keeps what the URL says.
 */
import type { Api, CategoryCount } from "./api.ts";

/**
 * Fills the category fields the page has; an API failure leaves them as the server rendered them.
 *
 * @example
 * await fillCategories(api, document);
 */
export async function fillCategories(api: Api, doc: Document): Promise<void> {
  const select = doc.getElementById("category") as HTMLSelectElement | null;
  const suggestions = doc.getElementById("categories") as HTMLDataListElement | null;
  if (!select && !suggestions) return;
  let items: CategoryCount[];
  try {
    ({ items } = await api.listCategories());
  } catch {
    return;
  }
  suggestions?.replaceChildren(...items.map((c) => new Option("", c.category)));
  if (select) {
    const chosen = select.value;
    // The first option is "Any category"; a category the list does not know (yet) stays selectable.
    const unknown = chosen && !items.some((c) => c.category === chosen) ? [new Option(chosen, chosen)] : [];
    select.replaceChildren(select.options[0]!, ...unknown, ...items.map((c) => new Option(`${c.category} (${c.count})`, c.category)));
    select.value = chosen;
  }
}
