//! The integration tests, as one binary (one link of the library instead of one per file):
//! every module is a file of tests over the real program and the shared data, registered below
//! with what it needs. A test whose needs this machine lacks (../shared, gemmi, Snakemake, the
//! Python tools, other CPythons, a browser) is reported as ignored, and why is said once on
//! stderr; the probes run here, when the tests run, not in a build script of the library.

use libtest_mimic::{Arguments, Trial};

mod common;

mod archive;
mod archive_fixture;
mod batch;
mod command_line;
mod difference_map;
mod docs_commands;
mod first_hour;
mod half_maps;
mod hostile_inputs;
mod local_fit_trust;
mod map_io_quirks;
mod map_reference_values;
mod memory_prediction;
mod model_copies;
mod model_io_gemmi;
mod model_io_real;
mod model_map_accuracy;
mod pages_in_browser;
mod peaks_report;
mod python_package;
mod regression;
mod release;
mod report_schema;
mod robustness;
mod slurm_cluster;
mod snakemake_workflow;
mod solvent_noise;
mod static_and_container;
mod viewer_outputs;

use common::Needs;

/// One test: its name (module::function), what it needs, and the function.
fn trial(name: &str, needs: &[Needs], test: fn()) -> Trial {
    let missing: Vec<&Needs> = needs.iter().filter(|n| !n.available()).collect();
    let label = name.to_string();
    let trial = Trial::test(name, move || common::run_test(&label, test));
    if missing.is_empty() {
        trial
    } else {
        common::say_skipped(name, &missing);
        trial.with_ignored_flag(true)
    }
}

/// `module::function [needs A, B]`, one per test.
macro_rules! tests {
    ($($(#[$attr:meta])* $module:ident :: $name:ident $([$($need:ident),+])?;)*) => {
        vec![$($(#[$attr])* trial(concat!(stringify!($module), "::", stringify!($name)), &[$($(Needs::$need),+)?], $module::$name),)*]
    };
}

fn main() {
    let arguments = Arguments::from_args();
    let trials: Vec<Trial> = tests![
        archive::entries_by_id_from_a_folder_http_and_s3_match_local_paths;
        archive::archive_failures_are_named_and_never_used;
        archive::the_snakefile_takes_emdb_ids_and_archive_roots [Snakemake];
        archive::headers_read_as_python_reads_them;
        batch::bad_entries_are_reported_and_good_ones_finish;
        batch::a_killed_batch_resumes_to_the_same_result;
        batch::parallel_and_sharded_runs_agree_with_a_serial_run;
        batch::manifest_errors_name_the_line;
        command_line::the_readme_command_writes_a_map_in_the_input_frame;
        command_line::resolution_comes_from_an_mmcif_that_records_it_and_gz_models_load;
        command_line::bad_input_fails_clearly_with_no_partial_output;
        command_line::help_lists_the_keys_with_defaults;
        difference_map::result_does_not_depend_on_where_the_box_starts [Shared];
        difference_map::removed_atoms_are_the_strongest_positive_features [Shared];
        difference_map::agrees_with_the_reference_tool_and_every_shared_case_runs [Shared];
        difference_map::the_same_case_in_another_frame_gives_the_same_map [Shared];
        difference_map::local_relative_b_is_fitted_on_request [Shared];
        first_hour::the_readme_first_example_shows_the_removed_heme_as_peak_1;
        first_hour::the_conda_recipe_tests_the_readme_example_at_this_version;
        first_hour::a_resolution_from_an_x_ray_entry_is_named_and_refused;
        first_hour::messages_name_the_real_mistake;
        first_hour::units_travel_with_every_number;
        docs_commands::every_shell_command_in_the_readme_and_docs_runs_on_testdata;
        docs_commands::links_between_the_pages_point_at_pages_and_headings_that_exist;
        half_maps::half_maps_on_the_command_line_give_z_units_and_q_values;
        half_maps::null_half_maps_list_a_significant_blob_in_about_one_percent_of_runs;
        half_maps::local_z_follows_noise_that_differs_between_two_halves_of_the_box;
        half_maps::z_is_calibrated_far_from_the_model_and_the_removed_groups_stand_out [Shared];
        half_maps::batch_entries_with_half_map_columns_match_the_command_line;
        hostile_inputs::tiny_voxels_are_refused_with_the_memory_they_would_need;
        hostile_inputs::hugely_negative_b_is_used_as_zero_with_a_warning;
        hostile_inputs::dimension_products_beyond_u64_are_refused;
        hostile_inputs::a_gzip_bomb_map_is_refused_before_it_is_inflated;
        hostile_inputs::model_bombs_devices_and_fifos_are_refused;
        hostile_inputs::threads_are_capped_at_the_cores_unless_forced;
        hostile_inputs::manifest_outputs_stay_inside_the_entry_folder;
        #[cfg(unix)] hostile_inputs::links_are_never_followed_and_only_own_temporaries_are_removed;
        hostile_inputs::the_summary_never_replaces_the_manifest_or_an_input;
        hostile_inputs::names_cannot_become_chimerax_commands;
        hostile_inputs::manifest_paths_are_files_whatever_their_names;
        hostile_inputs::names_stay_text_in_tables_and_terminals;
        hostile_inputs::a_run_writes_all_its_outputs_or_none;
        hostile_inputs::sigterm_leaves_no_temporaries;
        hostile_inputs::batches_share_a_folder_survive_an_upgrade_and_take_their_entries_down;
        hostile_inputs::a_manifest_with_a_byte_order_mark_is_read;
        hostile_inputs::reports_record_the_bytes_read;
        local_fit_trust::a_ligand_removed_from_a_crowded_pocket_leaves_no_false_holes;
        local_fit_trust::no_false_holes_or_flags_beside_the_removed_groups_of_the_synthetic_cases [Shared];
        local_fit_trust::the_robust_fit_keeps_or_raises_the_contrast_of_what_was_removed [Shared];
        local_fit_trust::the_peak_search_goes_where_it_is_aimed;
        map_io_quirks::every_mode_and_byte_order_reads_back;
        map_io_quirks::every_axis_order_lands_on_the_same_grid;
        map_io_quirks::machine_stamps_old_missing_and_wrong;
        map_io_quirks::extended_header_is_skipped;
        map_io_quirks::gzip_files_read_transparently;
        map_io_quirks::broken_files_give_clear_errors;
        map_io_quirks::writer_refuses_to_overwrite_its_input_and_leaves_no_partial_file;
        map_io_quirks::every_shared_map_round_trips [Shared];
        map_io_quirks::written_maps_pass_the_mrc2014_validator [Shared];
        map_reference_values::every_reference_map_reproduces_its_values [Shared];
        model_io_gemmi::every_model_reads_as_gemmi_reads_it [Gemmi];
        model_io_gemmi::a_many_chain_model_reads_the_same_from_pdb_and_mmcif [Gemmi];
        model_io_gemmi::shared_pdb_and_mmcif_copies_read_the_same [Shared];
        model_io_gemmi::scored_models_read_in_gemmi_with_the_residue_scores_as_b [Gemmi];
        model_io_gemmi::declared_symmetry_reads_as_gemmi_reads_it [Gemmi];
        memory_prediction::the_predicted_peak_memory_is_within_ten_percent_of_the_measured;
        model_copies::ncs_copies_and_assemblies_are_made_as_gemmi_makes_them [Gemmi];
        model_copies::point_groups_are_servalcats;
        model_copies::a_one_copy_file_gives_the_map_of_its_expanded_file [Gemmi];
        model_copies::a_residue_missing_from_every_copy_is_one_peak_seen_in_all [Gemmi];
        model_copies::symmetry_records_that_cannot_be_used_are_refused_by_name;
        model_copies::the_symmetric_example_prints_what_docs_symmetry_shows;
        model_io_real::every_shared_model_loads [Shared];
        model_io_real::spike_models_have_the_expected_contents [Shared];
        model_io_real::mitoribo_hydrogens_and_zero_occupancies_are_kept [Shared];
        model_io_real::models_sit_in_their_maps_in_every_placement_convention [Shared];
        model_map_accuracy::periodic_model_map_matches_direct_summation;
        model_map_accuracy::translation_by_whole_voxels_changes_nothing;
        model_map_accuracy::padded_box_agrees_with_periodic_box_when_the_model_is_well_inside;
        model_map_accuracy::atoms_outside_a_tight_box_do_not_wrap_to_the_opposite_face;
        model_map_accuracy::matches_gemmi_model_maps_near_the_model [Shared];
        model_map_accuracy::unknown_elements_are_named_and_modelled_as_carbon;
        pages_in_browser::run_report_loads_with_its_pictures [Browser];
        pages_in_browser::batch_page_sorts_filters_and_refreshes [Browser];
        pages_in_browser::half_map_report_shows_its_noise_histogram_chains_and_command [Browser];
        peaks_report::removed_groups_are_the_top_positive_blobs_with_the_right_neighbours [Shared];
        peaks_report::spike_nag_blobs_name_their_asparagines [Shared];
        peaks_report::residue_scores_flag_a_misplaced_side_chain [Shared];
        peaks_report::json_and_csv_reports_hold_the_run;
        python_package::the_abi3_wheel_builds_and_passes_the_pytest_suite [PythonTools];
        release::the_release_workflows_pass_actionlint_and_build_what_they_promise [ReleaseTools];
        release::the_wheel_for_clusters_is_manylinux_2_28_and_runs_the_readme_example [ReleaseTools];
        python_package::the_python_package_matches_the_command_line_on_shared_entries [Shared, PythonTools];
        python_package::the_same_wheel_works_on_cpython_3_9_and_the_newest_installed [OtherPythons];
        python_package::the_pip_installed_command_runs_the_readme_example_in_a_fresh_venv [PythonTools];
        regression::every_shared_case_gives_the_recorded_maps [Shared];
        report_schema::a_real_report_has_exactly_the_fields_the_readme_lists;
        report_schema::a_half_map_report_reads_back_and_the_readme_names_all_its_fields;
        robustness::mutated_map_headers_never_panic;
        robustness::mutated_maps_never_panic;
        robustness::extreme_dimensions_and_voxel_sizes_never_panic;
        robustness::mutated_header_words_never_panic;
        robustness::mutated_models_never_panic;
        robustness::mutated_emdb_headers_and_ids_never_panic;
        robustness::mutated_models_through_the_command_line_never_panic;
        robustness::mutated_half_maps_through_the_command_line_never_panic;
        robustness::odd_coordinate_values_never_panic;
        robustness::windows_wider_than_the_box_give_the_whole_box_window;
        robustness::a_gzip_bomb_is_refused_under_a_memory_limit;
        slurm_cluster::the_workflow_runs_on_a_slurm_cluster_like_the_local_batch;
        snakemake_workflow::the_snakefile_runs_a_manifest_like_the_batch_command [Snakemake];
        solvent_noise::solvent_noise_raises_the_removed_groups_on_unmasked_synthetic_maps [Shared];
        solvent_noise::a_masked_map_is_left_alone_and_half_maps_refuse_the_option;
        static_and_container::the_static_build_needs_no_shared_library_and_computes_the_same_map;
        static_and_container::the_container_image_holds_the_program_and_runs_it;
        viewer_outputs::chimerax_script_opens_the_run_where_it_was_computed;
        viewer_outputs::coot_script_runs_with_coot_functions_and_finds_the_files;
        viewer_outputs::peak_pictures_show_contours_around_each_peak;
        viewer_outputs::switches_turn_the_pictures_and_scripts_off;
        viewer_outputs::html_report_is_self_contained_and_its_links_resolve;
        viewer_outputs::a_run_that_could_not_write_its_extras_fails_before_writing_anything;
    ];
    libtest_mimic::run(&arguments, trials).exit();
}
