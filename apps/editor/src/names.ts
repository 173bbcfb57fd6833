/** Readable random document names, such as "quiet-harbor-27". */

const ADJECTIVES = (
  "amber bold brave bright calm clever cosy crisp daring eager fancy gentle golden happy humble " +
  "jolly keen lively lucky mellow merry misty nimble noble patient plucky proud quiet rapid rosy " +
  "rustic shy silver sleepy snowy sunny swift tidy vivid witty"
).split(" ");

const NOUNS = (
  "acorn badger beacon brook canyon comet cedar delta ember falcon fern fjord garden harbor " +
  "heron island lagoon lantern maple meadow meteor orchard otter panda pebble pine prairie quill " +
  "raven reef river robin sparrow summit thistle tiger tulip valley willow zephyr"
).split(" ");

function pick(words: readonly string[], random: number): string {
  return words[random % words.length] ?? "";
}

export function randomDocumentName(): string {
  const [a = 0, b = 0, c = 0] = crypto.getRandomValues(new Uint32Array(3));
  return `${pick(ADJECTIVES, a)}-${pick(NOUNS, b)}-${(c % 90) + 10}`;
}
