/**
 * The demo corpus `bun run seed` stores: captioned scenes drawn offline (see `render.ts`) across
 * the categories generation knows, plus tone references per category. Captions deliberately use
 * one word where a searcher may use another ("ocean" / "sea", "automobile" / "car", "kitten" /
 * "cat"), so synonym expansion and vectors have something to do.
 *
 * Entries are identified by `slug` (stored as the image's `originalName`, `<slug>.jpg`) and, once
 * rendered, by the sha256 of their bytes; the search evaluation set refers to slugs. Keep slugs
 * stable; add entries rather than renaming.
 */
import type { ImageRole } from "../../storage/keys.ts";
import type { SceneSpec } from "./render.ts";

export interface DemoImage {
  slug: string;
  caption: string;
  labels: string[];
  category: string;
  role: ImageRole;
  scene: SceneSpec;
}

type Entry = [slug: string, category: string, caption: string, labels: string[], scene: SceneSpec];

const corpus: Entry[] = [
  // landscape
  ["ocean-dawn-sailboat", "landscape", "A calm ocean at dawn with a pale pink sky and a small white sailboat near the horizon", ["ocean", "sailboat", "dawn", "horizon", "pink sky", "calm water"], { kind: "seascape", colors: ["#f4b8b0", "#fde3cf", "#6d9ec1", "#2f5f86", "#fff3d6", "#ffffff"], variant: 0 }],
  ["ocean-sunset-orange", "landscape", "Blazing orange sunset over open water, the sun's reflection glittering on the waves", ["sunset", "water", "waves", "orange", "reflection", "dusk"], { kind: "seascape", colors: ["#e8572a", "#f9a03f", "#7a3b52", "#2b1d3a", "#ffd166", "#1a1a1a"], variant: 1 }],
  ["coast-midday-turquoise", "landscape", "Turquoise tropical coastline under a clear blue midday sky with a lone boat", ["coast", "tropical", "turquoise", "boat", "summer", "blue sky"], { kind: "seascape", colors: ["#4aa3df", "#bfe6ff", "#2ec4b6", "#0f7c8c", "#fffbe0", "#f25f5c"], variant: 2 }],
  ["snowy-peaks-lake", "landscape", "Snowy mountain peaks above a still alpine lake on a cold clear morning", ["mountains", "snow", "alpine", "lake", "winter", "peaks"], { kind: "mountains", colors: ["#a9cce3", "#eaf2f8", "#d6e4ee", "#7f9db5", "#4a6378", "#3c7a9c"], variant: 1 }],
  ["purple-mountain-dusk", "landscape", "Layered purple mountain ridges fading into a violet dusk sky", ["mountains", "ridges", "dusk", "purple", "violet", "layers"], { kind: "mountains", colors: ["#5b3a7a", "#e3a7c0", "#8e6aa8", "#6a4a8a", "#3f2a5c", "#2a1c40"], variant: 0 }],
  ["pine-forest-morning", "landscape", "Dense pine forest in soft morning light with a misty pale sky", ["forest", "pine trees", "woods", "mist", "green", "morning"], { kind: "forest", colors: ["#dfe9e3", "#f6f1dd", "#2f4a2f", "#3e6b3a", "#2c5530", "#1d3b22"] }],
  ["autumn-woods", "landscape", "Autumn woodland with rust, amber and golden trees under a grey sky", ["autumn", "fall", "woodland", "trees", "amber", "golden"], { kind: "forest", colors: ["#b8b8b0", "#dcd6c8", "#6b4a2a", "#c2571a", "#e09f3e", "#9e2a2b"] }],
  ["desert-dunes-noon", "landscape", "Rolling sand dunes in a hot desert under a bright white sun", ["desert", "sand dunes", "sand", "hot", "arid", "sun"], { kind: "desert", colors: ["#7fb7e6", "#d8ecf8", "#e9c46a", "#dda15e", "#bc6c25", "#fffbe6"] }],
  ["wildflower-meadow", "landscape", "Green meadow full of yellow and white wildflowers on rolling hills in spring", ["meadow", "wildflowers", "spring", "hills", "grass", "flowers"], { kind: "meadow", colors: ["#8ecae6", "#e0f4ff", "#6a994e", "#386641", "#ffd60a", "#ffffff"] }],
  ["lavender-field-evening", "landscape", "Lavender field glowing violet in the warm evening light", ["lavender", "field", "purple", "evening", "countryside", "flowers"], { kind: "meadow", colors: ["#f7b267", "#f4845f", "#7b5ea7", "#5a3e85", "#b79ced", "#d8c3f5"] }],
  // architecture
  ["city-skyline-day", "architecture", "Downtown skyline of glass skyscrapers on a bright clear day", ["skyline", "skyscrapers", "downtown", "glass", "towers", "daytime"], { kind: "skyline", colors: ["#5fa8d3", "#cae9ff", "#62748a", "#8d99ae", "#d9f0ff"], variant: 0 }],
  ["city-night-lights", "architecture", "Metropolis at night, office windows lit warm yellow against a dark navy sky with stars", ["city", "night", "lights", "metropolis", "windows", "stars"], { kind: "skyline", colors: ["#0b132b", "#1c2541", "#1f2a44", "#2c3e50", "#ffd166"], variant: 1 }],
  ["neon-street-night", "architecture", "Rain-slick downtown street at night glowing with magenta and cyan neon lamps", ["street", "neon", "night", "urban", "magenta", "cyan"], { kind: "street", colors: ["#12002b", "#3a0ca3", "#1b1b2f", "#240046", "#f72585", "#4cc9f0"] }],
  ["quiet-avenue-dawn", "architecture", "Empty avenue lined with street lamps at dawn, buildings in soft peach light", ["avenue", "road", "street lamps", "dawn", "empty", "peach"], { kind: "street", colors: ["#ffcdb2", "#ffe8d6", "#6d6875", "#b5838d", "#fff1c1", "#ffffff"] }],
  ["suspension-bridge-sunset", "architecture", "Suspension bridge over a river silhouetted against an amber sunset", ["bridge", "river", "sunset", "amber", "silhouette", "cables"], { kind: "bridge", colors: ["#f77f00", "#fcbf49", "#5a3d2b", "#2b2d42", "#3d405b"] }],
  ["steel-bridge-fog", "architecture", "Grey steel bridge crossing the bay in thick morning fog", ["bridge", "fog", "bay", "steel", "grey", "mist"], { kind: "bridge", colors: ["#c9ced6", "#e9ecef", "#8d99ae", "#495057", "#6c757d"] }],
  // interior
  ["scandinavian-living-room", "interior", "Bright Scandinavian living room with a grey sofa, a tall window and a floor lamp", ["living room", "sofa", "couch", "scandinavian", "window", "lamp"], { kind: "room", colors: ["#f4f1ea", "#c8b6a6", "#cfe8ff", "#8d8d8d", "#ffe066", "#5c5c5c", "#4f772d"] }],
  ["cozy-reading-corner", "interior", "Cozy reading nook with a mustard couch, warm lamp light and a potted plant", ["reading nook", "couch", "mustard", "cozy", "lamp", "plant"], { kind: "room", colors: ["#3d2c2e", "#7f5539", "#283d3b", "#d4a017", "#ffd166", "#1c1c1c", "#2d6a4f"] }],
  ["teal-bedroom", "interior", "Calm bedroom with deep teal walls, a soft white bench and a window at night", ["bedroom", "teal", "calm", "night", "window", "minimal"], { kind: "room", colors: ["#1f5f61", "#b08968", "#0b1d3a", "#f1f1f1", "#fff3b0", "#e0e0e0", "#7a9e7e"] }],
  // food
  ["pasta-tomato-basil", "food", "Plate of spaghetti with tomato sauce and fresh basil on a rustic wooden table", ["pasta", "spaghetti", "tomato", "basil", "italian", "dinner"], { kind: "plate", colors: ["#8b5a2b", "#6f4518", "#fafafa", "#e63946", "#f4a261", "#2a9d8f"] }],
  ["green-salad-bowl", "food", "Fresh green salad with cucumber, avocado and cherry tomatoes, healthy lunch", ["salad", "vegetables", "avocado", "healthy", "lunch", "greens"], { kind: "plate", colors: ["#e9e4d4", "#cbbf9f", "#ffffff", "#70a83b", "#a7c957", "#d62828"] }],
  ["breakfast-eggs-toast", "food", "Breakfast of fried eggs, toast and bacon on a white plate, morning meal", ["breakfast", "eggs", "toast", "bacon", "morning", "brunch"], { kind: "plate", colors: ["#a5a58d", "#6b705c", "#ffffff", "#ffd23f", "#d4a373", "#bc4749"] }],
  ["sushi-platter", "food", "Japanese sushi platter with salmon nigiri and maki on a dark slate", ["sushi", "japanese", "salmon", "nigiri", "maki", "seafood"], { kind: "plate", colors: ["#2b2d42", "#1d1e2c", "#3a3d4d", "#fa7f5a", "#f8f9fa", "#264653"] }],
  ["fruit-bowl-citrus", "food", "Ceramic bowl of oranges, lemons and limes on a kitchen counter", ["fruit", "citrus", "oranges", "lemons", "limes", "bowl"], { kind: "fruit-bowl", colors: ["#f1faee", "#a8dadc", "#457b9d", "#f77f00", "#fcbf49", "#80b918"] }],
  ["berries-bowl", "food", "Bowl of red strawberries, raspberries and blueberries, a sweet summer dessert", ["berries", "strawberries", "blueberries", "raspberries", "dessert", "summer"], { kind: "fruit-bowl", colors: ["#fff0f3", "#ffccd5", "#ffffff", "#c9184a", "#590d22", "#3a0ca3"] }],
  ["latte-art-cup", "food", "Cup of latte with heart-shaped foam art on a saucer, seen from above", ["coffee", "latte", "latte art", "cafe", "cup", "top-down"], { kind: "cup", colors: ["#d6ccc2", "#f5ebe0", "#ffffff", "#9c6644", "#f3e9dc"] }],
  ["matcha-green-tea", "food", "Bright green matcha tea in a white cup on a pale wooden tray", ["matcha", "tea", "green", "drink", "cup", "japanese"], { kind: "cup", colors: ["#e3d5ca", "#f5ebe0", "#ffffff", "#7fb069", "#b5d99c"] }],
  // portrait
  ["portrait-warm-studio", "portrait", "Studio headshot of a smiling woman with dark hair on a warm orange backdrop", ["portrait", "headshot", "woman", "smile", "studio", "warm"], { kind: "portrait", colors: ["#f6a05a", "#b5532b", "#1d3557", "#e0a98a", "#2b1b17", "#3b2a25"], variant: 0 }],
  ["portrait-cool-blue", "portrait", "Moody portrait of a man against a cool blue background, serious expression", ["portrait", "man", "moody", "blue", "serious", "face"], { kind: "portrait", colors: ["#3a6ea5", "#0f1c2e", "#222222", "#c68e6c", "#6b4226", "#1a1a1a"], variant: 1 }],
  ["portrait-child-garden", "portrait", "Cheerful child with blond hair in front of a green garden hedge", ["child", "kid", "portrait", "garden", "blond", "happy"], { kind: "portrait", colors: ["#95d5b2", "#2d6a4f", "#e76f51", "#f1c7a8", "#e9c46a", "#3d2b1f"], variant: 2 }],
  ["portrait-elderly-grey", "portrait", "Black and white style portrait of an elderly man with silver hair on grey", ["elderly", "old man", "grandfather", "portrait", "monochrome", "grey"], { kind: "portrait", colors: ["#bdbdbd", "#616161", "#2e2e2e", "#cfcfcf", "#f0f0f0", "#1e1e1e"], variant: 0 }],
  ["portrait-pink-pastel", "portrait", "Pastel pink fashion portrait of a young woman with auburn hair", ["fashion", "portrait", "pastel", "pink", "young woman", "auburn hair"], { kind: "portrait", colors: ["#ffd6e0", "#ffafcc", "#cdb4db", "#f3c9b1", "#8c2f39", "#5e2a2a"], variant: 1 }],
  // product
  ["perfume-bottle-gold", "product", "Luxury perfume bottle with a gold cap on a cream studio backdrop", ["perfume", "bottle", "fragrance", "luxury", "gold", "cosmetics"], { kind: "bottle", colors: ["#fff8e7", "#e8d8b8", "#f4c2c2", "#c9a227", "#fdfcf7"] }],
  ["green-glass-bottle", "product", "Green glass bottle of olive oil with a paper label, product photo", ["bottle", "olive oil", "glass", "green", "label", "packaging"], { kind: "bottle", colors: ["#f0efeb", "#d6d2c4", "#4f772d", "#31572c", "#ecf39e"] }],
  ["wristwatch-silver", "product", "Silver wristwatch with a navy dial and leather strap on a grey background", ["watch", "wristwatch", "timepiece", "silver", "navy", "leather"], { kind: "watch", colors: ["#e5e5e5", "#9e9e9e", "#6f4e37", "#c0c0c0", "#14213d", "#f8f9fa"] }],
  ["red-running-shoe", "product", "Red running shoe with a white sole and laces, studio shot", ["sneaker", "running shoe", "trainer", "red", "sportswear", "footwear"], { kind: "sneaker", colors: ["#f8f9fa", "#dee2e6", "#d00000", "#ffffff", "#370617", "#f8f9fa"] }],
  ["black-headphones", "product", "Matte black over-ear headphones on a yellow background", ["headphones", "audio", "music", "black", "yellow", "gadget"], { kind: "headphones", colors: ["#ffd60a", "#ffc300", "#1b1b1b", "#222222", "#444444"] }],
  ["white-headphones-mint", "product", "White wireless headphones on a mint green backdrop, minimalist product shot", ["headphones", "wireless", "white", "mint", "minimalist", "tech"], { kind: "headphones", colors: ["#b7e4c7", "#74c69d", "#f8f9fa", "#ffffff", "#dee2e6"] }],
  // vehicle
  ["red-sports-automobile", "vehicle", "Red sports automobile parked on an open road under a clear sky", ["automobile", "sports", "red", "road", "coupe", "speed"], { kind: "car", colors: ["#8ecae6", "#e0fbfc", "#6c757d", "#d62828", "#a8dadc", "#adb5bd"] }],
  ["vintage-blue-car", "vehicle", "Vintage pastel blue coupe in a sunny street at golden hour", ["vintage", "classic", "coupe", "blue", "retro", "golden hour"], { kind: "car", colors: ["#ffb703", "#ffe8a3", "#8d6e63", "#6ca0dc", "#d0ebff", "#eeeeee"] }],
  ["city-bicycle-yellow", "vehicle", "Yellow city bicycle against a white wall on a cobbled street", ["bicycle", "bike", "cycling", "yellow", "urban", "commute"], { kind: "bicycle", colors: ["#f8f9fa", "#e9ecef", "#adb5bd", "#212529", "#ffc300", "#6f4518"] }],
  ["sailboat-harbour", "vehicle", "White sailing yacht moored in a quiet harbour at sunrise", ["yacht", "sailing", "harbour", "boat", "sunrise", "marina"], { kind: "seascape", colors: ["#ffafcc", "#ffe5ec", "#8ab6d6", "#3d5a80", "#fff1e6", "#f8f9fa"], variant: 0 }],
  // animal
  ["ginger-kitten", "animal", "Ginger kitten with green eyes sitting on a soft cream blanket", ["kitten", "ginger", "pet", "cute", "green eyes", "fluffy"], { kind: "cat", colors: ["#fff1d6", "#f2d7b6", "#e07a2f", "#2d6a4f", "#f4a6a6"] }],
  ["black-cat-moon", "animal", "Black cat sitting under a pale moonlit sky, mysterious night scene", ["black cat", "night", "moon", "mysterious", "feline", "halloween"], { kind: "cat", colors: ["#3c4f76", "#0b132b", "#111111", "#f4d35e", "#c9ada7"] }],
  ["robin-on-branch", "animal", "Small robin with an orange breast perched on a branch in spring", ["robin", "bird", "songbird", "branch", "spring", "orange breast"], { kind: "bird", colors: ["#bde0fe", "#e7f5ff", "#6b4f3a", "#f3722c", "#f9c74f", "#5a3e2b"] }],
  ["blue-parrot", "animal", "Bright blue and yellow macaw parrot against a tropical sky", ["parrot", "macaw", "tropical", "blue", "yellow", "exotic bird"], { kind: "bird", colors: ["#48cae4", "#caf0f8", "#0077b6", "#ffd60a", "#111111", "#2d6a4f"] }],
  ["goldfish-aquarium", "animal", "Orange goldfish swimming in a clear blue aquarium with bubbles", ["goldfish", "fish", "aquarium", "underwater", "orange", "bubbles"], { kind: "fish", colors: ["#90e0ef", "#0077b6", "#f77f00", "#fcbf49", "#d62828"] }],
  ["tropical-reef-fish", "animal", "Striped tropical reef fish in deep turquoise sea water", ["reef", "tropical fish", "sea", "underwater", "stripes", "coral"], { kind: "fish", colors: ["#00b4d8", "#023e8a", "#ffd166", "#ef476f", "#073b4c"] }],
  // abstract
  ["abstract-circles-primary", "abstract", "Abstract composition of overlapping red, yellow and blue circles on white", ["abstract", "circles", "primary colors", "geometric", "bauhaus", "shapes"], { kind: "abstract", colors: ["#fafafa", "#e63946", "#ffbe0b", "#1d4ed8"], variant: 0 }],
  ["abstract-squares-pastel", "abstract", "Scattered pastel squares in mint, peach and lilac, soft geometric pattern", ["abstract", "squares", "pastel", "geometric", "pattern", "soft"], { kind: "abstract", colors: ["#fdfcdc", "#b8f2e6", "#ffc6a5", "#cdb4db", "#a0c4ff"], variant: 1 }],
  ["abstract-stripes-retro", "abstract", "Retro horizontal stripes in burnt orange, mustard and brown, seventies pattern", ["stripes", "retro", "seventies", "pattern", "orange", "mustard"], { kind: "abstract", colors: ["#3d2314", "#cc5803", "#e2a03f", "#7f5539", "#f4d58d"], variant: 2 }],
];

type ToneEntry = [slug: string, category: string, caption: string, labels: string[], colors: string[]];

const tones: ToneEntry[] = [
  ["tone-landscape-golden", "landscape", "Golden hour warmth: honey, amber and soft peach light", ["golden hour", "warm", "amber", "soft light"], ["#f9c74f", "#f8961e", "#f3722c", "#ffd6a5", "#fff1c1"]],
  ["tone-landscape-nordic", "landscape", "Nordic cool: misty blue-grey with pale icy highlights", ["cool", "misty", "blue grey", "nordic"], ["#a8b8c8", "#dfe7ee", "#6c829a", "#c9d6df", "#f2f6f9"]],
  ["tone-architecture-neon", "architecture", "Neon night: deep indigo with magenta and cyan glow", ["neon", "night", "indigo", "magenta", "cyan"], ["#10002b", "#3c096c", "#f72585", "#4cc9f0", "#7209b7"]],
  ["tone-architecture-concrete", "architecture", "Concrete daylight: neutral greys with a hint of warm sand", ["concrete", "neutral", "grey", "daylight"], ["#adb5bd", "#dee2e6", "#6c757d", "#d4c5a9", "#f1f3f5"]],
  ["tone-interior-hygge", "interior", "Hygge: warm lamp light, oatmeal linen and wood browns", ["hygge", "cozy", "warm", "linen", "wood"], ["#e6ccb2", "#ede0d4", "#b08968", "#7f5539", "#ffd7a1"]],
  ["tone-interior-teal", "interior", "Deep teal and brass, calm and moody", ["teal", "brass", "moody", "calm"], ["#184e4a", "#2a6f6b", "#c9a227", "#0b3c3a", "#d9c58a"]],
  ["tone-food-rustic", "food", "Rustic kitchen: tomato red, olive green and warm wood", ["rustic", "tomato red", "olive", "wood"], ["#8b5a2b", "#c1440e", "#6b8f3a", "#e9c46a", "#f4e3c1"]],
  ["tone-food-fresh", "food", "Fresh and bright: citrus yellow, leafy green and white", ["fresh", "bright", "citrus", "green"], ["#fefae0", "#ffd60a", "#80b918", "#ffffff", "#c5e99b"]],
  ["tone-portrait-warm", "portrait", "Warm skin tones with terracotta shadows", ["warm", "terracotta", "skin tones", "soft"], ["#e5989b", "#b5838d", "#ffb4a2", "#6d4c41", "#ffddd2"]],
  ["tone-portrait-cinematic", "portrait", "Cinematic teal and orange contrast", ["cinematic", "teal and orange", "contrast", "film"], ["#0f4c5c", "#e36414", "#fb8b24", "#1b2a38", "#9a031e"]],
  ["tone-product-minimal", "product", "Minimal white studio with soft pastel accents", ["minimal", "white", "studio", "pastel"], ["#f8f9fa", "#ffffff", "#e9ecef", "#ffc8dd", "#bde0fe"]],
  ["tone-product-luxury", "product", "Luxury black and gold", ["luxury", "black", "gold", "premium"], ["#0d0d0d", "#1c1c1c", "#c9a227", "#8a6e1b", "#f5d77a"]],
  ["tone-vehicle-sunset", "vehicle", "Sunset road trip: burnt orange sky over asphalt grey", ["sunset", "road trip", "orange", "asphalt"], ["#f3722c", "#f9844a", "#4d4d4d", "#f9c74f", "#277da1"]],
  ["tone-animal-forest", "animal", "Forest floor: moss green, bark brown and dappled sunlight", ["moss", "forest", "earthy", "dappled light"], ["#3a5a40", "#588157", "#6f4518", "#a3b18a", "#f2e8cf"]],
  ["tone-abstract-memphis", "abstract", "Memphis pop: hot pink, electric blue and lemon yellow", ["memphis", "pop", "bold", "playful"], ["#ff006e", "#3a86ff", "#ffbe0b", "#fb5607", "#8338ec"]],
];

type AngleEntry = [slug: string, category: string, caption: string, labels: string[], scene: SceneSpec];

const angles: AngleEntry[] = [
  ["angle-food-overhead", "food", "Overhead flat lay of a plated dish, camera straight above", ["overhead", "flat lay", "top-down", "composition"], { kind: "plate", colors: ["#d9d9d9", "#bfbfbf", "#ffffff", "#9e9e9e", "#7a7a7a", "#5c5c5c"] }],
  ["angle-portrait-three-quarter", "portrait", "Three-quarter portrait framing, subject slightly off-centre", ["three-quarter", "framing", "off-centre", "composition"], { kind: "portrait", colors: ["#cccccc", "#8a8a8a", "#555555", "#b0b0b0", "#333333", "#222222"], variant: 2 }],
  ["angle-product-eye-level", "product", "Eye-level product shot on a seamless backdrop with a soft shadow", ["eye level", "seamless", "shadow", "composition"], { kind: "bottle", colors: ["#eeeeee", "#bbbbbb", "#888888", "#666666", "#aaaaaa"] }],
];

/**
 * Every demo image: the captioned corpus, then tone references, then angle references.
 *
 * @example
 * for (const entry of DEMO_IMAGES) await ingestImage(deps, { bytes: await renderScene(entry.scene, entry.slug), ...entry });
 */
export const DEMO_IMAGES: readonly DemoImage[] = [
  ...corpus.map(([slug, category, caption, labels, scene]): DemoImage => ({ slug, category, caption, labels, role: "corpus", scene })),
  ...tones.map(([slug, category, caption, labels, colors]): DemoImage => ({ slug, category, caption, labels, role: "tone-ref", scene: { kind: "tone", colors } })),
  ...angles.map(([slug, category, caption, labels, scene]): DemoImage => ({ slug, category, caption, labels, role: "angle-ref", scene })),
];

/** The categories the demo corpus covers. */
export const DEMO_CATEGORIES: readonly string[] = [...new Set(DEMO_IMAGES.map((d) => d.category))];
