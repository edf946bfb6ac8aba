import { D1DatabaseObject as MiniflareD1Object } from "./database.worker.js";

/** A bookmark in the format of D1's (and workerd's local one): position 0. */
const FIRST_BOOKMARK = `00000000-00000000-00000000-${"0".repeat(32)}`;

/**
 * miniflare's local D1 object, except that a query that changed nothing writes nothing. After
 * every query it asks storage for a D1 session bookmark, and workerd's local implementation of
 * that writes a counter into the database: every read was a write, so on a full disk even reads
 * failed. Here a new bookmark is taken only when this connection changed something since the last
 * one (SQLite's total_changes()); otherwise the last one still names the same state. Bookmarks
 * matter only to D1 sessions (`withSession`), which the API does not use, and locally a bookmark
 * is never waited for.
 */
export class D1DatabaseObject extends MiniflareD1Object {
  constructor(state, env) {
    super(state, env);
    const storage = state.storage;
    const take = storage.getCurrentBookmark.bind(storage);
    const changes = () => storage.sql.exec("SELECT total_changes() AS n").one().n;
    let bookmark = FIRST_BOOKMARK;
    let changesAtBookmark = changes();
    storage.getCurrentBookmark = async () => {
      if (changes() === changesAtBookmark) return bookmark;
      const taken = take();
      changesAtBookmark = changes();
      bookmark = await taken;
      return bookmark;
    };
  }
}
