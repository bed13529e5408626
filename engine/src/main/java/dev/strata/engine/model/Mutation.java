package dev.strata.engine.model;

/** One change inside a Write: put a whole document, or delete one by id (a tombstone). */
public sealed interface Mutation permits Mutation.Put, Mutation.Delete {

  /** The id the mutation applies to. */
  String id();

  /** Insert or replace a whole document. */
  record Put(Document document) implements Mutation {
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
