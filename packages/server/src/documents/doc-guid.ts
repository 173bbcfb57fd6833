/**
 * A guid for a Y.Doc the server creates. Y.Doc's default guid is lib0's uuidv4, which draws 31
 * random numbers, each a call into the platform's crypto (getRandomValues): about 0.15 ms per
 * document here, 7% of the CPU of opening 1,000 documents (many-docs profile: uuidv4 and
 * randomFillSync), and as much again for every merge of a stored document. A guid only tells
 * sub-documents apart, which Tandem refuses, so a counter unique in the process (or thread) is
 * as good.
 */
let created = 0;

export function nextDocGuid(): string {
  created++;
  return `tandem-${created}`;
}
