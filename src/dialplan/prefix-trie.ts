/**
 * Digit trie for longest-prefix match of E.164 numbers over number blocks and zone prefixes.
 * A lookup walks at most 15 nodes with array indexing and no allocation, which is what keeps
 * a route decision in microseconds with tens of thousands of blocks.
 */
interface TrieNode<V> {
  next: Array<TrieNode<V> | undefined> | undefined;
  value: V | undefined;
}

export class PrefixTrie<V> {
  private readonly root: TrieNode<V> = { next: undefined, value: undefined };
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Stores `value` under a prefix of digits (0-9 only). */
  set(prefix: string, value: V): void {
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const d = prefix.charCodeAt(i) - 48;
      if (d < 0 || d > 9) throw new Error(`prefix trie key must be digits: ${prefix}`);
      node.next ??= new Array<TrieNode<V> | undefined>(10);
      node = node.next[d] ??= { next: undefined, value: undefined };
    }
    if (node.value === undefined) this.count++;
    node.value = value;
  }

  get(prefix: string): V | undefined {
    let node: TrieNode<V> | undefined = this.root;
    for (let i = 0; i < prefix.length && node; i++) node = node.next?.[prefix.charCodeAt(i) - 48];
    return node?.value;
  }

  /**
   * Value of the longest stored prefix of `digits[start..]`, or undefined. `start` lets callers
   * skip the '+' of an E.164 string without slicing it.
   */
  longest(digits: string, start = 0): V | undefined {
    let node: TrieNode<V> | undefined = this.root;
    let best: V | undefined = this.root.value;
    for (let i = start; i < digits.length; i++) {
      const d = digits.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      node = node.next?.[d];
      if (node === undefined) break;
      if (node.value !== undefined) best = node.value;
    }
    return best;
  }
}
