package dev.strata.wal;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Documents which lock guards a field (as {@code javax.annotation.concurrent.GuardedBy} does, without
 * the dependency). Not checked by a tool; read it as a contract.
 */
@Documented
@Retention(RetentionPolicy.SOURCE)
@Target({ElementType.FIELD, ElementType.METHOD})
@interface GuardedBy {
  /** The lock's field name. */
  String value();
}
