package dev.strata.engine.model;

/** One change inside a Write: put a whole document, or delete one by id (a tombstone). */
public sealed interface Mutation permits Mutation.Put, Mutation.Delete {

  /** The id the mutation applies to. */
  String id();

  /**
   * Insert or replace a whole document, given in its stored form (encoded once, by the caller).
   *
   * @param document the document; checked against the collection's schema by the write, before
   *     the WAL
   */
  record Put(EncodedDocument document) implements Mutation {
    /**
     * @throws IllegalArgumentException if the id is not valid ({@link Document#validateId})
     */
    public Put {
      Document.validateId(document.id());
    }

    /** A put of a decoded document, encoded here. */
    public Put(Document document) {
      this(EncodedDocument.of(document));
    }

    @Override
    public String id() {
      return document.id();
    }
  }

  /** Delete a document; absent ids are fine (the tombstone still hides older versions). */
  record Delete(String id) implements Mutation {
    public Delete {
      Document.validateId(id);
    }
  }
}
